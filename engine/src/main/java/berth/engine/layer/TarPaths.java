package berth.engine.layer;

import java.util.ArrayDeque;
import java.util.Deque;

/** Lexical cleaning of names inside tar archives, shared by layer unpacking and image archive loading. */
public final class TarPaths {
  private TarPaths() {}

  /**
   * The name as a clean relative path ("" for the root): leading "/" and "./" go, "a//b" and "a/./b"
   * collapse, ".." removes the component before it. Null when a ".." would climb above the root.
   */
  public static String normalize(String name) {
    Deque<String> parts = new ArrayDeque<>();
    for (String seg : name.split("/")) {
      if (seg.isEmpty() || seg.equals(".")) {
        continue;
      }
      if (seg.equals("..")) {
        if (parts.isEmpty()) {
          return null;
        }
        parts.removeLast();
      } else {
        parts.addLast(seg);
      }
    }
    return String.join("/", parts);
  }
}
