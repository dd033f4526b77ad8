package berth.engine.build;

import berth.engine.errdefs.EngineException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The Dockerfile's variable substitution (Docker's shell lexer): quotes removed, the escape character honoured,
 * {@code $VAR}, {@code ${VAR}}, {@code ${VAR:-x}}, {@code ${VAR-x}}, {@code ${VAR:+x}}, {@code ${VAR+x}},
 * {@code ${VAR:?msg}} and {@code ${VAR?msg}} expanded from a lookup; unknown variables are empty.
 */
final class ShellLex {
  private final char escape;

  ShellLex(char escape) {
    this.escape = escape;
  }

  /** Expands one word: the result is a single string, whitespace kept. */
  String word(String s, Function<String, String> env) {
    Run r = new Run(s, env, false);
    r.process();
    return r.current.toString();
  }

  /** Expands and splits on unquoted whitespace (also inside unquoted expansions), as for EXPOSE, VOLUME, COPY. */
  List<String> words(String s, Function<String, String> env) {
    Run r = new Run(s, env, true);
    r.process();
    r.flush();
    return r.words;
  }

  private final class Run {
    private final String s;
    private final Function<String, String> env;
    private final boolean split;
    private int pos;
    private final StringBuilder current = new StringBuilder();
    private final List<String> words = new ArrayList<>();
    private boolean inWord;

    Run(String s, Function<String, String> env, boolean split) {
      this.s = s;
      this.env = env;
      this.split = split;
    }

    void flush() {
      if (inWord) {
        words.add(current.toString());
        current.setLength(0);
        inWord = false;
      }
    }

    private void add(char c) {
      if (split && Character.isWhitespace(c)) {
        flush();
        return;
      }
      current.append(c);
      inWord = true;
    }

    private void addQuoted(String v) {
      current.append(v);
      inWord = true;
    }

    void process() {
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c == escape) {
          pos++;
          if (pos < s.length()) {
            addQuoted(String.valueOf(s.charAt(pos++)));
          }
        } else if (c == '\'') {
          int end = s.indexOf('\'', pos + 1);
          if (end < 0) {
            throw EngineException.invalid("unexpected end of statement while looking for matching single-quote");
          }
          addQuoted(s.substring(pos + 1, end));
          pos = end + 1;
        } else if (c == '"') {
          pos++;
          StringBuilder q = new StringBuilder();
          boolean closed = false;
          while (pos < s.length()) {
            char d = s.charAt(pos);
            if (d == '"') {
              pos++;
              closed = true;
              break;
            } else if (d == escape && pos + 1 < s.length()) {
              char n = s.charAt(pos + 1);
              if (n == '"' || n == '$' || n == escape) {
                q.append(n);
              } else {
                q.append(d).append(n);
              }
              pos += 2;
            } else if (d == '$') {
              q.append(dollar());
            } else {
              q.append(d);
              pos++;
            }
          }
          if (!closed) {
            throw EngineException.invalid("unexpected end of statement while looking for matching double-quote");
          }
          addQuoted(q.toString());
        } else if (c == '$') {
          String v = dollar();
          for (int i = 0; i < v.length(); i++) {
            add(v.charAt(i));
          }
        } else {
          add(c);
          pos++;
        }
      }
    }

    /** At a '$': returns its expansion and moves past it. */
    private String dollar() {
      pos++;
      if (pos >= s.length()) {
        return "$";
      }
      char c = s.charAt(pos);
      if (c == '{') {
        pos++;
        String name = name();
        if (name.isEmpty()) {
          throw EngineException.invalid("bad substitution in %s", s);
        }
        if (pos >= s.length()) {
          throw EngineException.invalid("syntax error: missing '}' in %s", s);
        }
        char op = s.charAt(pos);
        if (op == '}') {
          pos++;
          return orEmpty(env.apply(name));
        }
        boolean colon = false;
        if (op == ':') {
          colon = true;
          pos++;
          if (pos >= s.length()) {
            throw EngineException.invalid("syntax error: missing '}' in %s", s);
          }
          op = s.charAt(pos);
        }
        if (op != '-' && op != '+' && op != '?') {
          throw EngineException.invalid("unsupported modifier (%s) in substitution: %s", String.valueOf(op), s);
        }
        pos++;
        String word = nested();
        String v = env.apply(name);
        boolean set = v != null && (!colon || !v.isEmpty());
        return switch (op) {
          case '-' -> set ? v : word;
          case '+' -> set ? word : "";
          default -> {
            if (!set) {
              throw EngineException.invalid("%s: %s", name, word.isEmpty() ? "is not allowed to be unset" : word);
            }
            yield v;
          }
        };
      }
      String name = name();
      if (name.isEmpty()) {
        return "$";
      }
      return orEmpty(env.apply(name));
    }

    /** The word of a ${x:-word} up to its closing brace, itself expanded. */
    private String nested() {
      StringBuilder w = new StringBuilder();
      while (pos < s.length() && s.charAt(pos) != '}') {
        char c = s.charAt(pos);
        if (c == '$') {
          w.append(dollar());
        } else if (c == escape && pos + 1 < s.length()) {
          w.append(s.charAt(pos + 1));
          pos += 2;
        } else if (c == '\'' || c == '"') {
          int end = s.indexOf(c, pos + 1);
          if (end < 0) {
            throw EngineException.invalid("syntax error: unterminated quote in %s", s);
          }
          w.append(s, pos + 1, end);
          pos = end + 1;
        } else {
          w.append(c);
          pos++;
        }
      }
      if (pos >= s.length()) {
        throw EngineException.invalid("syntax error: missing '}' in %s", s);
      }
      pos++;
      return w.toString();
    }

    private String name() {
      int start = pos;
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (Character.isLetterOrDigit(c) && c < 128 || c == '_') {
          if (pos == start && Character.isDigit(c)) {
            break;
          }
          pos++;
        } else {
          break;
        }
      }
      return s.substring(start, pos);
    }
  }

  private static String orEmpty(String v) {
    return v == null ? "" : v;
  }
}
