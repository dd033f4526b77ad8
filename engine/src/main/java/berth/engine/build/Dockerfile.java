package berth.engine.build;

import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A parsed Dockerfile: parser directives, then instructions with their flags and arguments, as Docker's
 * parser splits them (comments, line continuation with the escape character, JSON and shell forms). Variables
 * are not expanded here: that happens at build time, where the values are known ({@link ShellLex}).
 */
record Dockerfile(List<Instruction> instructions, char escape, List<String> warnings) {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern DIRECTIVE = Pattern.compile("^#\\s*([a-zA-Z][a-zA-Z0-9]*)\\s*=\\s*(.+?)\\s*$");
  private static final Pattern FLAG = Pattern.compile("--([a-zA-Z][a-zA-Z0-9-]*)(?:=(.*))?");
  static final Set<String> KNOWN = Set.of("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM",
      "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR");
  /** Instructions whose arguments may be a JSON array. */
  private static final Set<String> JSON_FORMS = Set.of("ADD", "CMD", "COPY", "ENTRYPOINT", "RUN", "SHELL", "VOLUME");

  /**
   * One instruction. {@code args} are its arguments split as Docker's parser does (for JSON forms, the array;
   * for ENV and LABEL, alternating keys and values, still quoted; otherwise whitespace-separated words, except
   * for RUN/CMD/ENTRYPOINT/SHELL-less shell forms, whose one argument is the rest of the line). {@code original}
   * is the instruction as written (continuations joined), {@code line} its first line.
   */
  record Instruction(String keyword, Map<String, String> flags, List<String> args, boolean json, String original,
      int line, String rest) {
    /** The value of a --flag, or null. */
    String flag(String name) {
      return flags.get(name);
    }
  }

  /** Parses a whole Dockerfile; INVALID_PARAMETER naming the line for anything Docker's parser refuses. */
  static Dockerfile parse(String text) {
    String[] lines = text.replace("\r\n", "\n").split("\n", -1);
    if (lines.length > 0 && lines[0].startsWith("\uFEFF")) {
      lines[0] = lines[0].substring(1);
    }
    List<String> warnings = new ArrayList<>();
    char escape = '\\';
    int i = 0;
    Set<String> seen = new java.util.HashSet<>();
    for (; i < lines.length; i++) {
      Matcher m = DIRECTIVE.matcher(lines[i]);
      if (!m.matches()) {
        break;
      }
      String name = m.group(1).toLowerCase(Locale.ROOT);
      if (!name.equals("escape") && !name.equals("syntax") && !name.equals("check")) {
        break; // an unknown directive is a comment, and ends the directives
      }
      if (!seen.add(name)) {
        throw EngineException.invalid("dockerfile parse error on line %d: only one %s parser directive can be used",
            i + 1, name);
      }
      if (name.equals("escape")) {
        String v = m.group(2);
        if (!v.equals("`") && !v.equals("\\")) {
          throw EngineException.invalid("dockerfile parse error on line %d: invalid escape token '%s' does not match "
              + "` or \\", i + 1, v);
        }
        escape = v.charAt(0);
      } else if (name.equals("syntax")) {
        warnings.add("the syntax parser directive (" + m.group(2) + ") is ignored by the classic builder");
      }
    }
    List<Instruction> out = new ArrayList<>();
    StringBuilder cur = null;
    int start = 0;
    for (; i < lines.length; i++) {
      String raw = lines[i];
      String trimmed = raw.strip();
      if (cur == null) {
        if (trimmed.isEmpty() || trimmed.startsWith("#")) {
          continue;
        }
        cur = new StringBuilder();
        start = i + 1;
      } else if (trimmed.startsWith("#")) {
        continue; // comments inside a continued instruction are dropped
      } else if (trimmed.isEmpty()) {
        warnings.add("empty continuation line found in instruction on line " + start);
        continue;
      }
      String stripped = stripTrailing(raw);
      if (!stripped.isEmpty() && stripped.charAt(stripped.length() - 1) == escape) {
        cur.append(stripped, 0, stripped.length() - 1);
        if (i == lines.length - 1) {
          out.add(instruction(cur.toString(), start, escape));
          cur = null;
        }
        continue;
      }
      cur.append(cur.length() == 0 ? trimmed : raw);
      out.add(instruction(cur.toString(), start, escape));
      cur = null;
    }
    if (cur != null && !cur.toString().isBlank()) {
      out.add(instruction(cur.toString(), start, escape));
    }
    if (out.isEmpty()) {
      throw EngineException.invalid("the Dockerfile cannot be empty");
    }
    return new Dockerfile(out, escape, warnings);
  }

  private static String stripTrailing(String s) {
    int end = s.length();
    while (end > 0 && Character.isWhitespace(s.charAt(end - 1))) {
      end--;
    }
    return s.substring(0, end);
  }

  /** Parses one logical line; also used for ONBUILD triggers. */
  static Instruction instruction(String text, int line, char escape) {
    String t = text.strip();
    int sp = 0;
    while (sp < t.length() && !Character.isWhitespace(t.charAt(sp))) {
      sp++;
    }
    String keyword = t.substring(0, sp).toUpperCase(Locale.ROOT);
    String rest = t.substring(sp).strip();
    if (!KNOWN.contains(keyword)) {
      throw EngineException.invalid("dockerfile parse error on line %d: unknown instruction: %s", line,
          t.substring(0, sp));
    }
    Map<String, String> flags = new LinkedHashMap<>();
    if (Set.of("FROM", "COPY", "ADD", "RUN", "HEALTHCHECK").contains(keyword)) {
      while (rest.startsWith("--")) {
        int end = 0;
        while (end < rest.length() && !Character.isWhitespace(rest.charAt(end))) {
          end++;
        }
        String word = rest.substring(0, end);
        if (word.equals("--")) {
          rest = rest.substring(end).strip();
          break;
        }
        Matcher m = FLAG.matcher(word);
        if (!m.matches()) {
          throw EngineException.invalid("dockerfile parse error on line %d: invalid flag: %s", line, word);
        }
        flags.put(m.group(1).toLowerCase(Locale.ROOT), m.group(2) == null ? "true" : m.group(2));
        rest = rest.substring(end).strip();
      }
    }
    List<String> args = new ArrayList<>();
    boolean json = false;
    switch (keyword) {
      case "ENV", "LABEL" -> args.addAll(nameValues(keyword, rest, line, escape));
      case "ONBUILD" -> {
        if (rest.isEmpty()) {
          throw EngineException.invalid("dockerfile parse error on line %d: ONBUILD requires at least one argument",
              line);
        }
        Instruction trigger = instruction(rest, line, escape);
        if (Set.of("ONBUILD", "FROM", "MAINTAINER").contains(trigger.keyword())) {
          throw EngineException.invalid("dockerfile parse error on line %d: %s isn't allowed as an ONBUILD trigger",
              line, trigger.keyword());
        }
        args.add(rest);
      }
      case "HEALTHCHECK" -> {
        String[] kw = rest.split("\\s+", 2);
        args.add(kw[0]);
        if (kw.length > 1) {
          List<String> arr = jsonArray(kw[1]);
          if (arr != null) {
            json = true;
            args.addAll(arr);
          } else {
            args.add(kw[1]);
          }
        }
      }
      default -> {
        List<String> arr = JSON_FORMS.contains(keyword) ? jsonArray(rest) : null;
        if (arr != null) {
          json = true;
          args.addAll(arr);
        } else if (keyword.equals("SHELL")) {
          throw EngineException.invalid("dockerfile parse error on line %d: SHELL requires the arguments to be in "
              + "JSON form", line);
        } else if (Set.of("RUN", "CMD", "ENTRYPOINT").contains(keyword)) {
          if (!rest.isEmpty()) {
            args.add(rest);
          }
        } else if (!rest.isEmpty()) {
          args.addAll(words(rest, escape));
        }
      }
    }
    checkArity(keyword, args, flags, line);
    return new Instruction(keyword, flags, args, json, text.strip(), line, rest);
  }

  private static void checkArity(String keyword, List<String> args, Map<String, String> flags, int line) {
    int n = args.size();
    String problem = switch (keyword) {
      case "FROM" -> n == 1 || n == 3 && args.get(1).equalsIgnoreCase("AS") ? null
          : "FROM requires either one or three arguments";
      case "COPY", "ADD" -> n >= 2 ? null : keyword + " requires at least two arguments, but only one was provided. "
          + "Destination could not be determined";
      case "ENV", "LABEL" -> n > 0 ? null : keyword + " requires at least one argument";
      case "ARG" -> n == 1 ? null : "ARG requires exactly one argument";
      case "USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER" -> n == 1 ? null : keyword + " requires exactly one argument";
      case "RUN", "EXPOSE", "VOLUME" -> n > 0 ? null : keyword + " requires at least one argument";
      case "HEALTHCHECK" -> n > 0 ? null : "HEALTHCHECK requires at least one argument";
      default -> null;
    };
    if ((keyword.equals("COPY") || keyword.equals("ADD")) && n == 1) {
      problem = keyword + " requires at least two arguments, but only one was provided. Destination could not be "
          + "determined";
    }
    if (problem != null) {
      throw EngineException.invalid("dockerfile parse error on line %d: %s", line, problem);
    }
  }

  /** A JSON array of strings, or null when the text is not one (then it is the shell form). */
  static List<String> jsonArray(String s) {
    if (!s.startsWith("[")) {
      return null;
    }
    try {
      JsonNode n = JSON.readTree(s);
      if (!n.isArray()) {
        return null;
      }
      List<String> out = new ArrayList<>();
      for (JsonNode e : n) {
        if (!e.isTextual()) {
          return null;
        }
        out.add(e.asText());
      }
      return out;
    } catch (JsonProcessingException e) {
      return null;
    }
  }

  /** Splits on unquoted whitespace, keeping quotes and escapes for {@link ShellLex} to process. */
  static List<String> words(String s, char escape) {
    List<String> out = new ArrayList<>();
    StringBuilder w = new StringBuilder();
    char quote = 0;
    boolean inWord = false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (quote == 0 && Character.isWhitespace(c)) {
        if (inWord) {
          out.add(w.toString());
          w.setLength(0);
          inWord = false;
        }
        continue;
      }
      inWord = true;
      w.append(c);
      if (c == escape && quote != '\'' && i + 1 < s.length()) {
        w.append(s.charAt(++i));
      } else if (quote == 0 && (c == '"' || c == '\'')) {
        quote = c;
      } else if (c == quote) {
        quote = 0;
      }
    }
    if (inWord) {
      out.add(w.toString());
    }
    return out;
  }

  /**
   * ENV and LABEL: {@code k=v k2="v 2"} pairs, or the legacy {@code ENV key value with spaces} form; returns
   * key, value, key, value ... with quotes still in place.
   */
  private static List<String> nameValues(String keyword, String rest, int line, char escape) {
    List<String> words = words(rest, escape);
    List<String> out = new ArrayList<>();
    if (words.isEmpty()) {
      return out;
    }
    if (!words.get(0).contains("=")) {
      // legacy form: the first word is the key, the rest of the line the value
      String key = words.get(0);
      String value = rest.substring(rest.indexOf(key) + key.length()).strip();
      if (value.isEmpty()) {
        throw EngineException.invalid("dockerfile parse error on line %d: %s must have two arguments", line, keyword);
      }
      out.add(key);
      out.add(value);
      return out;
    }
    for (String w : words) {
      int eq = w.indexOf('=');
      if (eq <= 0) {
        throw EngineException.invalid("dockerfile parse error on line %d: %s names can not be blank", line, keyword);
      }
      out.add(w.substring(0, eq));
      out.add(w.substring(eq + 1));
    }
    return out;
  }
}
