package berth.engine.image;

import java.util.regex.Pattern;

/** Go's path.Match patterns ({@code *}, {@code ?}, {@code [..]}; none of them crosses '/'), as regexes. */
final class Glob {
  private Glob() {}

  static Pattern compile(String glob) {
    StringBuilder re = new StringBuilder();
    for (int i = 0; i < glob.length(); i++) {
      char c = glob.charAt(i);
      switch (c) {
        case '*' -> re.append("[^/]*");
        case '?' -> re.append("[^/]");
        case '[' -> {
          int end = glob.indexOf(']', i + 1);
          if (end < 0) {
            re.append("\\[");
          } else {
            String cls = glob.substring(i + 1, end);
            re.append('[').append(cls.replace("\\", "\\\\").replace("[", "\\[")).append(']');
            i = end;
          }
        }
        case '\\' -> {
          if (i + 1 < glob.length()) {
            re.append(Pattern.quote(String.valueOf(glob.charAt(++i))));
          }
        }
        default -> re.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return Pattern.compile(re.toString());
  }
}
