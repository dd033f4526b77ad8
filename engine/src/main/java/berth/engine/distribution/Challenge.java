package berth.engine.distribution;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** One authentication challenge of a {@code WWW-Authenticate} header: its scheme and parameters. */
record Challenge(String scheme, Map<String, String> params) {

  /** The parameter's value, or null. */
  String param(String name) {
    return params.get(name.toLowerCase(Locale.ROOT));
  }

  boolean isBearer() {
    return scheme.equalsIgnoreCase("bearer");
  }

  boolean isBasic() {
    return scheme.equalsIgnoreCase("basic");
  }

  /**
   * Parses every challenge of a header value (RFC 7235: {@code scheme k=v, k="quoted, value"}, possibly
   * several schemes in one value); malformed pieces are skipped, never thrown on.
   */
  static List<Challenge> parse(String header) {
    List<Challenge> out = new ArrayList<>();
    if (header == null) {
      return out;
    }
    int i = 0;
    int n = header.length();
    String scheme = null;
    Map<String, String> params = null;
    while (i < n) {
      i = skip(header, i, " \t,");
      if (i >= n) {
        break;
      }
      int start = i;
      while (i < n && isToken(header.charAt(i))) {
        i++;
      }
      if (i == start) {
        i++; // an unexpected character: skip it
        continue;
      }
      String token = header.substring(start, i);
      int j = skip(header, i, " \t");
      if (j < n && header.charAt(j) == '=' && scheme != null) {
        j = skip(header, j + 1, " \t");
        StringBuilder v = new StringBuilder();
        if (j < n && header.charAt(j) == '"') {
          j++;
          while (j < n && header.charAt(j) != '"') {
            char c = header.charAt(j);
            if (c == '\\' && j + 1 < n) {
              c = header.charAt(++j);
            }
            v.append(c);
            j++;
          }
          j++; // the closing quote
        } else {
          while (j < n && header.charAt(j) != ',' && header.charAt(j) != ' ') {
            v.append(header.charAt(j++));
          }
        }
        params.put(token.toLowerCase(Locale.ROOT), v.toString());
        i = j;
      } else {
        if (scheme != null) {
          out.add(new Challenge(scheme, params));
        }
        scheme = token;
        params = new LinkedHashMap<>();
        i = j;
      }
    }
    if (scheme != null) {
      out.add(new Challenge(scheme, params));
    }
    return out;
  }

  private static int skip(String s, int i, String chars) {
    while (i < s.length() && chars.indexOf(s.charAt(i)) >= 0) {
      i++;
    }
    return i;
  }

  private static boolean isToken(char c) {
    return c > 32 && c < 127 && "()<>@,;:\\\"/[]?={} \t".indexOf(c) < 0;
  }
}
