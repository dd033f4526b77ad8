package berth.engine.build;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A {@code .dockerignore} file with Docker's rules: one pattern a line, {@code #} comments, a leading {@code /}
 * dropped, {@code *} and {@code ?} within one path element, {@code **} across any number of them, {@code !} to
 * re-include; the last matching pattern decides, and a pattern that matches a parent directory matches what is in
 * it.
 */
final class DockerIgnore {
  private record Rule(Pattern regex, boolean exclusion) {}

  private final List<Rule> rules;

  private DockerIgnore(List<Rule> rules) {
    this.rules = rules;
  }

  static DockerIgnore parse(String text) {
    List<Rule> rules = new ArrayList<>();
    for (String line : text.split("\r?\n")) {
      String p = line.strip();
      if (p.isEmpty() || p.startsWith("#")) {
        continue;
      }
      boolean exclusion = false;
      if (p.startsWith("!")) {
        exclusion = true;
        p = p.substring(1).strip();
        if (p.isEmpty()) {
          continue;
        }
      }
      p = clean(p);
      if (p.length() > 1 && p.startsWith("/")) {
        p = p.substring(1);
      }
      rules.add(new Rule(Pattern.compile(regex(p)), exclusion));
    }
    return new DockerIgnore(rules);
  }

  /** True when nothing is ignored. */
  boolean isEmpty() {
    return rules.isEmpty();
  }

  /** Whether the path (relative to the context, '/'-separated, no leading '/') is left out of the context. */
  boolean excluded(String path) {
    String[] parts = path.split("/");
    boolean matched = false;
    for (Rule r : rules) {
      boolean m = r.regex.matcher(path).matches();
      if (!m) {
        StringBuilder parent = new StringBuilder();
        for (int i = 0; i < parts.length - 1 && !m; i++) {
          if (i > 0) {
            parent.append('/');
          }
          parent.append(parts[i]);
          m = r.regex.matcher(parent).matches();
        }
      }
      if (m) {
        matched = !r.exclusion;
      }
    }
    return matched;
  }

  /** Go's filepath.Clean for '/'-separated patterns. */
  static String clean(String p) {
    boolean abs = p.startsWith("/");
    List<String> out = new ArrayList<>();
    for (String e : p.split("/")) {
      if (e.isEmpty() || e.equals(".")) {
        continue;
      }
      if (e.equals("..")) {
        if (!out.isEmpty() && !out.get(out.size() - 1).equals("..")) {
          out.remove(out.size() - 1);
        } else if (!abs) {
          out.add(e);
        }
        continue;
      }
      out.add(e);
    }
    String s = String.join("/", out);
    return abs ? "/" + s : s.isEmpty() ? "." : s;
  }

  private static String regex(String p) {
    StringBuilder r = new StringBuilder();
    for (int i = 0; i < p.length(); i++) {
      char c = p.charAt(i);
      if (c == '*') {
        if (i + 1 < p.length() && p.charAt(i + 1) == '*') {
          i++;
          if (i + 1 < p.length() && p.charAt(i + 1) == '/') {
            i++;
            r.append("(?:.*/)?"); // "**/" is zero or more directories
          } else {
            r.append(".*");
          }
        } else {
          r.append("[^/]*");
        }
      } else if (c == '?') {
        r.append("[^/]");
      } else if (c == '\\' && i + 1 < p.length()) {
        r.append(Pattern.quote(String.valueOf(p.charAt(++i))));
      } else if (c == '[') {
        int end = p.indexOf(']', i + 1);
        if (end < 0) {
          r.append("\\[");
        } else {
          String cls = p.substring(i + 1, end);
          if (cls.startsWith("^")) {
            cls = "!" + cls.substring(1);
          }
          r.append('[').append(cls.startsWith("!") ? "^" + cls.substring(1).replace("\\", "\\\\")
              : cls.replace("\\", "\\\\")).append(']');
          i = end;
        }
      } else {
        r.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return r.toString();
  }
}
