package berth.engine.runtime;

import berth.engine.api.types.ContainerTop;
import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.StringJoiner;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code docker top}: the host's {@code ps} run with the client's arguments, its rows filtered down to
 * a container's processes, as dockerd does it ({@code daemon/top_unix.go}). The caller supplies the
 * container's host PIDs (from {@code runc ps}); this class knows nothing of runc.
 *
 * <p>Errors carry dockerd's wording. Like dockerd's, they are all {@link ErrorKind#SYSTEM} (500):
 * dockerd leaves invalid arguments and unparsable output unclassified.
 */
public final class Top {
  /** The arguments used when the client gives none. */
  public static final String DEFAULT_ARGS = "-ef";

  // "pid=PID"-like output specifiers are the only "x=PID..." dockerd allows: renaming another column
  // to PID would make it pick the wrong column. \s is ASCII-only in Java too (moby#24358).
  private static final Pattern PS_ARGS = Pattern.compile("\\s+([^\\s]*)=\\s*(PID[^\\s]*)");

  private Top() {}

  /**
   * Lists the processes among {@code pids} as {@code ps <psArgs>} shows them. An empty or null
   * {@code psArgs} is {@value #DEFAULT_ARGS}. ps is first run with {@code -q<pids>}, so it only looks
   * at those; if that fails (some options, such as forest listings, refuse {@code -q}) it is run again
   * without, and the rows are filtered here either way.
   *
   * @throws EngineException SYSTEM for invalid arguments, a failing ps ("ps: " and the first line of
   *     its stderr) or output without a PID column ("Couldn't find PID field in ps output")
   */
  public static ContainerTop list(Collection<Long> pids, String psArgs) {
    String args = psArgs == null || psArgs.isEmpty() ? DEFAULT_ARGS : psArgs;
    validateArgs(args);
    Set<Long> set = new TreeSet<>(pids);
    // dockerd splits on single spaces, passing empty arguments through (daemon/top_unix.go)
    List<String> argv = new ArrayList<>(Arrays.asList(args.split(" ", -1)));
    StringJoiner q = new StringJoiner(",", "-q", "");
    set.forEach(p -> q.add(Long.toString(p)));
    List<String> withPids = new ArrayList<>(argv);
    withPids.add(q.toString());
    Result r = ps(withPids);
    if (r.exit != 0) {
      r = ps(argv);
      if (r.exit != 0) {
        String first = r.stderr.split("\n", 2)[0];
        String why = first.isEmpty() ? "exit status " + r.exit : first;
        throw new EngineException(ErrorKind.SYSTEM, "ps: " + why);
      }
    }
    return parse(r.stdout, set);
  }

  /**
   * Rejects {@code x=PID} output specifiers other than {@code pid=PID}, with dockerd's message
   * ({@code specifying "x=PID" is not allowed}); callers may check this before looking the container up,
   * as dockerd does.
   *
   * @throws EngineException SYSTEM when the arguments rename a column to PID
   */
  public static void validateArgs(String psArgs) {
    Matcher m = PS_ARGS.matcher(psArgs == null ? "" : psArgs);
    while (m.find()) {
      if (!m.group(1).equals("pid")) {
        throw new EngineException(ErrorKind.SYSTEM,
            String.format("specifying \"%s=%s\" is not allowed", m.group(1), m.group(2)));
      }
    }
  }

  /**
   * Keeps the rows of ps output whose PID is in {@code pids}. The first line gives the titles and the
   * column named exactly "PID"; each row is split on ASCII whitespace, and its fields beyond the last
   * title are joined with single spaces into the last column (the command line). A row whose PID is
   * "-" (a thread line, as with {@code -m}) is kept when the process row above it was.
   */
  static ContainerTop parse(String output, Set<Long> pids) {
    String[] lines = output.split("\n", -1);
    List<String> titles = fields(lines[0]);
    int pidIndex = titles.indexOf("PID");
    if (pidIndex < 0) {
      throw new EngineException(ErrorKind.SYSTEM, "Couldn't find PID field in ps output");
    }
    List<List<String>> rows = new ArrayList<>();
    boolean previousKept = false;
    for (int i = 1; i < lines.length; i++) {
      if (lines[i].isEmpty()) {
        continue;
      }
      List<String> f = fields(lines[i]);
      if (f.size() <= pidIndex) {
        previousKept = false;
        continue;
      }
      String pid = f.get(pidIndex);
      if (pid.equals("-")) {
        if (previousKept) {
          rows.add(row(f, titles.size()));
        }
        continue;
      }
      long p;
      try {
        p = Long.parseLong(pid);
      } catch (NumberFormatException e) {
        throw new EngineException(ErrorKind.SYSTEM, String.format(
            "Unexpected pid '%s': strconv.Atoi: parsing \"%s\": invalid syntax", pid, pid));
      }
      previousKept = pids.contains(p);
      if (previousKept) {
        rows.add(row(f, titles.size()));
      }
    }
    return new ContainerTop(titles, rows.isEmpty() ? null : rows);
  }

  /** Exactly one field per title: overhanging fields joined into the last, missing ones empty. */
  private static List<String> row(List<String> fields, int columns) {
    int head = Math.min(fields.size(), columns - 1);
    List<String> out = new ArrayList<>(fields.subList(0, head));
    while (out.size() < columns - 1) {
      out.add("");
    }
    out.add(String.join(" ", fields.subList(head, fields.size())));
    return out;
  }

  /** Fields separated by ASCII whitespace only (Go's fieldsASCII): non-breaking spaces stay in a field. */
  private static List<String> fields(String s) {
    List<String> out = new ArrayList<>();
    int start = -1;
    for (int i = 0; i <= s.length(); i++) {
      boolean sep = i == s.length() || " \t\n\f\r".indexOf(s.charAt(i)) >= 0;
      if (sep && start >= 0) {
        out.add(s.substring(start, i));
        start = -1;
      } else if (!sep && start < 0) {
        start = i;
      }
    }
    return out;
  }

  private record Result(int exit, String stdout, String stderr) {}

  private static Result ps(List<String> args) {
    List<String> cmd = new ArrayList<>(args.size() + 1);
    cmd.add("ps");
    cmd.addAll(args);
    Process proc;
    try {
      proc = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    } catch (IOException e) {
      throw new EngineException(ErrorKind.SYSTEM, "ps: " + e.getMessage(), e);
    }
    try {
      // stdout first, then stderr: ps writes at most a usage text to stderr, far below a pipe's
      // capacity, so it cannot stall on a full stderr while stdout is being read.
      byte[] out = drain(proc.getInputStream());
      byte[] err = drain(proc.getErrorStream());
      int exit = proc.waitFor();
      return new Result(exit, new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    } catch (InterruptedException e) {
      proc.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new EngineException(ErrorKind.SYSTEM, "ps: interrupted", e);
    }
  }

  private static byte[] drain(InputStream in) {
    try (in; ByteArrayOutputStream buf = new ByteArrayOutputStream()) {
      in.transferTo(buf);
      return buf.toByteArray();
    } catch (IOException e) {
      return new byte[0];
    }
  }
}
