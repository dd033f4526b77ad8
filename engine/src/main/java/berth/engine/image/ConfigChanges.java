package berth.engine.image;

import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Applies the Dockerfile instructions that {@code docker import --change} and {@code docker commit
 * --change} accept (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)
 * to a container config object.
 */
final class ConfigChanges {
  private static final Set<String> ALLOWED =
      Set.of("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR", "STOPSIGNAL");

  private ConfigChanges() {}

  /** Applies every change in order; INVALID_PARAMETER naming the first bad one, before anything is read. */
  static void apply(ObjectNode config, List<String> changes) {
    for (String change : changes) {
      for (String line : change.split("\n")) {
        if (!line.isBlank()) {
          applyOne(config, line.trim());
        }
      }
    }
  }

  private static void applyOne(ObjectNode c, String line) {
    int sp = line.indexOf(' ');
    String op = (sp < 0 ? line : line.substring(0, sp)).toUpperCase(Locale.ROOT);
    String arg = sp < 0 ? "" : line.substring(sp + 1).trim();
    if (!ALLOWED.contains(op)) {
      throw EngineException.invalid("%s is not a valid change command", op.toLowerCase(Locale.ROOT));
    }
    if (arg.isEmpty()) {
      throw EngineException.invalid("%s requires at least one argument", op);
    }
    switch (op) {
      case "CMD", "ENTRYPOINT" -> c.set(op.equals("CMD") ? "Cmd" : "Entrypoint", commandForm(arg));
      case "ENV" -> {
        ArrayNode env = c.has("Env") && c.get("Env").isArray() ? (ArrayNode) c.get("Env") : c.putArray("Env");
        for (String[] kv : pairs(arg, "ENV")) {
          for (int i = 0; i < env.size(); i++) {
            if (env.get(i).asText().startsWith(kv[0] + "=")) {
              env.remove(i--);
            }
          }
          env.add(kv[0] + "=" + kv[1]);
        }
      }
      case "LABEL" -> {
        ObjectNode labels = c.has("Labels") && c.get("Labels").isObject() ? (ObjectNode) c.get("Labels") : c.putObject("Labels");
        for (String[] kv : pairs(arg, "LABEL")) {
          labels.put(kv[0], kv[1]);
        }
      }
      case "EXPOSE" -> {
        ObjectNode ports = c.has("ExposedPorts") && c.get("ExposedPorts").isObject()
            ? (ObjectNode) c.get("ExposedPorts") : c.putObject("ExposedPorts");
        for (String p : arg.split("\\s+")) {
          if (!p.matches("[0-9]+(-[0-9]+)?(/(tcp|udp|sctp))?")) {
            throw EngineException.invalid("invalid containerPort: %s", p);
          }
          int slash = p.indexOf('/');
          String proto = slash < 0 ? "tcp" : p.substring(slash + 1);
          String range = slash < 0 ? p : p.substring(0, slash);
          int dash = range.indexOf('-');
          int first = parsePort(dash < 0 ? range : range.substring(0, dash), p);
          int last = dash < 0 ? first : parsePort(range.substring(dash + 1), p);
          if (last < first) {
            throw EngineException.invalid("invalid range specified for containerPort: %s", p);
          }
          // one key per port, as nat.ParsePortSpecs expands "8080-8082" in dockerd's EXPOSE
          for (int port = first; port <= last; port++) {
            ports.putObject(port + "/" + proto);
          }
        }
      }
      case "VOLUME" -> {
        ObjectNode vols = c.has("Volumes") && c.get("Volumes").isObject() ? (ObjectNode) c.get("Volumes") : c.putObject("Volumes");
        JsonNode form = commandForm(arg);
        for (JsonNode v : arg.startsWith("[") ? form : splitWords(arg)) {
          vols.putObject(v.asText());
        }
      }
      case "ONBUILD" -> {
        ArrayNode ob = c.has("OnBuild") && c.get("OnBuild").isArray() ? (ArrayNode) c.get("OnBuild") : c.putArray("OnBuild");
        ob.add(arg);
      }
      case "USER" -> c.put("User", arg);
      case "WORKDIR" -> c.put("WorkingDir", arg);
      case "STOPSIGNAL" -> c.put("StopSignal", arg);
      default -> throw new IllegalStateException(op);
    }
  }

  /** JSON form ["a","b"] as is; shell form wrapped in ["/bin/sh","-c", ...] as Docker does. */
  private static JsonNode commandForm(String arg) {
    if (arg.startsWith("[")) {
      try {
        JsonNode n = ImageService.JSON.readTree(arg);
        if (n.isArray()) {
          return n;
        }
      } catch (IOException e) {
        // not JSON: Docker then takes it as shell form
      }
    }
    ArrayNode a = ImageService.JSON.createArrayNode();
    a.add("/bin/sh").add("-c").add(arg);
    return a;
  }

  private static ArrayNode splitWords(String arg) {
    ArrayNode a = ImageService.JSON.createArrayNode();
    for (String w : arg.split("\\s+")) {
      a.add(w);
    }
    return a;
  }

  private static int parsePort(String s, String spec) {
    try {
      int port = Integer.parseInt(s);
      if (port <= 65535) {
        return port;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw EngineException.invalid("invalid containerPort: %s", spec);
  }

  /**
   * key=value pairs (values may be double-quoted), or the legacy "key value" form. As in dockerd's
   * parseNameVal, the first word decides: without '=' in it, the line is "key value" and the value is the
   * rest of the line, '=' included.
   */
  private static List<String[]> pairs(String arg, String op) {
    List<String[]> out = new ArrayList<>();
    String[] firstAndRest = arg.split("\\s+", 2);
    if (!firstAndRest[0].contains("=")) {
      if (firstAndRest.length < 2) {
        throw EngineException.invalid("%s must have two arguments", op);
      }
      out.add(new String[] {firstAndRest[0], firstAndRest[1].trim()});
      return out;
    }
    int i = 0;
    while (i < arg.length()) {
      while (i < arg.length() && arg.charAt(i) == ' ') {
        i++;
      }
      int eq = arg.indexOf('=', i);
      if (eq < 0) {
        throw EngineException.invalid("Syntax error - can't find = in \"%s\". Must be of the form: name=value", arg.substring(i));
      }
      String key = unquote(arg.substring(i, eq));
      StringBuilder val = new StringBuilder();
      int j = eq + 1;
      char quote = 0;
      for (; j < arg.length(); j++) {
        char ch = arg.charAt(j);
        if (quote != 0) {
          if (ch == quote) {
            quote = 0;
          } else if (ch == '\\' && quote == '"' && j + 1 < arg.length()) {
            val.append(arg.charAt(++j));
          } else {
            val.append(ch);
          }
        } else if (ch == '"' || ch == '\'') {
          quote = ch;
        } else if (ch == ' ') {
          break;
        } else {
          val.append(ch);
        }
      }
      if (key.isEmpty()) {
        throw EngineException.invalid("%s names can not be blank", op);
      }
      out.add(new String[] {key, val.toString()});
      i = j;
    }
    return out;
  }

  private static String unquote(String s) {
    return s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"") ? s.substring(1, s.length() - 1) : s;
  }
}
