package berth.vm.driver.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the QEMU tools the driver needs (qemu-img, a probe qemu-system) with a deadline. */
final class Tools {
  private Tools() {}

  record Result(int exit, String output, boolean timedOut) {}

  /** Runs {@code cmd} with stdin from /dev/null, stdout and stderr together; kills it at the deadline. */
  static Result run(List<String> cmd, long timeoutSeconds) throws IOException {
    Path out = Files.createTempFile("berth-tool-", ".out");
    try {
      Process p;
      try {
        p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
      } catch (IOException e) {
        throw new IOException("cannot run " + cmd.get(0) + " (is it installed?): " + e.getMessage(), e);
      }
      boolean done;
      try {
        done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while running " + cmd.get(0));
      }
      if (!done) {
        p.destroyForcibly();
        try {
          p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      String text = Files.readString(out, StandardCharsets.ISO_8859_1).strip();
      return new Result(done ? p.exitValue() : -1, text, !done);
    } finally {
      Files.deleteIfExists(out);
    }
  }
}
