package berth.engine.build;

import berth.engine.api.build.BuildBackend;
import berth.engine.api.http.ApiJson;
import berth.engine.api.types.ContainerConfig;
import berth.engine.api.types.ContainerCreateRequest;
import berth.engine.api.types.HostConfig;
import berth.engine.api.types.JsonStream;
import berth.engine.container.ContainerService;
import berth.engine.content.Digest;
import berth.engine.errdefs.EngineException;
import berth.engine.image.ImageService;
import berth.engine.layer.LayerStore;
import berth.engine.layer.MountSpec;
import berth.engine.logs.ReadOptions;
import berth.engine.runtime.Mounts;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The classic builder ({@code POST /build}): runs a Dockerfile's stages step by step, each step committing an
 * image whose parent is the step before (so the cache is the image store itself, and survives restarts), RUN
 * in a container of {@link ContainerService} whose writable layer becomes the step's layer, COPY/ADD and
 * WORKDIR through an overlay mount of the step's image. Thread-safe; builds run concurrently.
 */
public final class Builder implements BuildBackend {
  private static final Logger LOG = Logger.getLogger(Builder.class.getName());
  /** The writable layers of COPY/ADD/WORKDIR steps; containers' are keyed by their hex ID, so never clash. */
  private static final String WRITABLE_PREFIX = "build-";
  static final ObjectMapper JSON = new ObjectMapper();
  /** How much of a failing RUN's output its error repeats: the last lines, within the last characters. */
  private static final int TAIL_LINES = 10;
  private static final int TAIL_CHARS = 4096;
  /** Build args Docker accepts without an ARG and leaves out of the image's history. */
  private static final Set<String> PROXY_ARGS = Set.of("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
      "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy");

  private final ImageService images;
  private final ContainerService containers;
  private final LayerStore layers;
  private final Path tmp;
  private final long maxContext;

  /**
   * A builder that makes images in {@code images}, runs RUN steps in {@code containers} and spools contexts of
   * at most {@code maxContext} bytes (uncompressed) under {@code tmp}.
   */
  public Builder(ImageService images, ContainerService containers, LayerStore layers, Path tmp, long maxContext) {
    this.maxContext = maxContext;
    this.images = images;
    this.containers = containers;
    this.layers = layers;
    this.tmp = tmp;
  }

  /**
   * What a build cut short by a crash leaves, undone at engine start before {@code tmp} is emptied: the overlay
   * mounts of COPY/ADD/WORKDIR steps under {@code tmp} and their {@code build-} writable layers.
   */
  public static void recover(Path tmp, LayerStore layers) throws IOException {
    for (Path m : Mounts.mountsUnder(tmp)) {
      LOG.info("unmounting " + m + ", left by an interrupted build");
      Mounts.unmount(m);
    }
    for (String key : layers.writableKeys()) {
      if (key.startsWith(WRITABLE_PREFIX)) {
        layers.removeWritable(key);
      }
    }
  }

  @Override
  public berth.engine.api.types.BuildCachePruneReport prune(berth.engine.api.types.Filters filters, boolean all,
      long keepStorage) {
    return images.buildCache().prune(filters, all, keepStorage);
  }

  @Override
  public String build(InputStream body, Options o, JsonStream out) throws IOException {
    for (String t : o.tags()) {
      ImageService.familiarTagged(t); // a bad tag fails before anything is read or run
    }
    try (BuildContext ctx = BuildContext.spool(body, tmp, o.dockerfile(), maxContext)) {
      Path df = ctx.files().resolve(o.dockerfile()).normalize();
      if (!df.startsWith(ctx.files())) {
        throw EngineException.invalid("the Dockerfile (%s) must be within the build context", o.dockerfile());
      }
      ctx.applyDockerignore(ctx.files().relativize(df).toString());
      if (!Files.isRegularFile(df)) {
        throw EngineException.invalid("Cannot locate specified Dockerfile: %s", o.dockerfile());
      }
      Dockerfile d = Dockerfile.parse(Files.readString(df, StandardCharsets.UTF_8));
      return new Run(ctx, d, o, out).execute();
    }
  }

  /** What a stage has built so far. */
  private static final class State {
    String name;
    String imageId;
    ObjectNode config = JSON.createObjectNode();
    boolean cmdSet;
    String author;
    /** ARGs declared in this stage, with their values (null when declared without one). */
    final Map<String, String> args = new LinkedHashMap<>();
  }

  private record Stage(Dockerfile.Instruction from, List<Dockerfile.Instruction> steps) {}

  /** One build: its options, output and the state of every stage. */
  private final class Run {
    private final BuildContext ctx;
    private final Dockerfile file;
    private final Options o;
    private final JsonStream out;
    private final ShellLex lex;
    /**
     * With {@code q}, the step output held back: sent only when the build fails, before the error, as dockerd
     * does (so the user sees what failed). Only the latest messages are kept.
     */
    private final java.util.ArrayDeque<Object> held = new java.util.ArrayDeque<>() {
      private static final long serialVersionUID = 1L;

      @Override
      public boolean add(Object m) {
        if (size() >= 10_000) {
          removeFirst();
        }
        return super.add(m);
      }
    };
    /** Where the result goes even with {@code q} (which silences {@link #out}). */
    private final JsonStream realOut;
    private final Map<String, String> metaArgs = new LinkedHashMap<>();
    private final Set<String> usedArgs = new HashSet<>();
    private final List<State> done = new ArrayList<>();
    /** The step images this build stands on, held against a concurrent {@code docker builder prune}. */
    private final Set<String> holding = new HashSet<>();
    private int step;
    private int total;

    Run(BuildContext ctx, Dockerfile file, Options o, JsonStream out) {
      this.ctx = ctx;
      this.file = file;
      this.o = o;
      this.out = o.quiet() ? held::add : out;
      this.lex = new ShellLex(file.escape());
      this.realOut = out;
    }

    String execute() throws IOException {
      try {
        return executeStages();
      } catch (IOException | RuntimeException e) {
        for (Object m : held) {
          realOut.send(m);
        }
        throw e;
      } finally {
        holding.forEach(images.buildCache()::release);
      }
    }

    /** Holds a step image for the rest of the build; false if it is gone (pruned meanwhile). */
    private boolean hold(String id) {
      if (holding.contains(id)) {
        return true;
      }
      if (!images.buildCache().hold(id)) {
        return false;
      }
      holding.add(id);
      return true;
    }

    private String executeStages() throws IOException {
      for (String w : file.warnings()) {
        say("[WARNING]: " + w + "\n");
      }
      List<Dockerfile.Instruction> meta = new ArrayList<>();
      List<Stage> stages = new ArrayList<>();
      for (Dockerfile.Instruction i : file.instructions()) {
        if (i.keyword().equals("FROM")) {
          stages.add(new Stage(i, new ArrayList<>()));
        } else if (stages.isEmpty()) {
          if (!i.keyword().equals("ARG")) {
            throw EngineException.invalid("dockerfile parse error on line %d: %s: no build stage in current context",
                i.line(), i.keyword());
          }
          meta.add(i);
        } else {
          stages.get(stages.size() - 1).steps().add(i);
        }
      }
      if (stages.isEmpty()) {
        throw EngineException.invalid("No image was generated. Is your Dockerfile empty?");
      }
      if (o.target() != null && !o.target().isEmpty()) {
        int at = -1;
        for (int i = 0; i < stages.size(); i++) {
          if (o.target().equalsIgnoreCase(stageName(stages.get(i)))) {
            at = i;
          }
        }
        if (at < 0) {
          throw EngineException.invalid("failed to reach build target %s in Dockerfile", o.target());
        }
        stages = new ArrayList<>(stages.subList(0, at + 1));
      }
      if (!o.labels().isEmpty()) {
        StringBuilder l = new StringBuilder("LABEL");
        new TreeMap<>(o.labels()).forEach((k, v) -> l.append(' ').append(quote(k)).append('=').append(quote(v)));
        Stage last = stages.get(stages.size() - 1);
        last.steps().add(Dockerfile.instruction(l.toString(), 0, '\\'));
      }
      total = meta.size();
      for (Stage s : stages) {
        total += 1 + s.steps().size();
      }
      for (Dockerfile.Instruction a : meta) {
        stepHeader(a);
        String[] kv = argDecl(a, n -> metaArgs.get(n));
        metaArgs.put(kv[0], o.buildArgs().containsKey(kv[0]) && o.buildArgs().get(kv[0]) != null
            ? o.buildArgs().get(kv[0]) : kv[1]);
        usedArgs.add(kv[0]);
      }
      State last = null;
      for (Stage s : stages) {
        last = runStage(s);
        done.add(last);
      }
      List<String> unused = new ArrayList<>();
      for (String k : new TreeMap<>(o.buildArgs()).keySet()) {
        if (!usedArgs.contains(k) && !PROXY_ARGS.contains(k)) {
          unused.add(k);
        }
      }
      if (!unused.isEmpty()) {
        say("[Warning] One or more build-args " + unused + " were not consumed\n");
      }
      if (last.imageId == null) {
        throw EngineException.invalid("No image was generated. Is your Dockerfile empty?");
      }
      String id = last.imageId;
      realOut.send(Map.of("aux", Map.of("ID", id)));
      if (o.quiet()) {
        realOut.send(Map.of("stream", id + "\n"));
      }
      say("Successfully built " + id.substring(7, 19) + "\n");
      for (String t : o.tags()) {
        images.tagImage(id, t);
        say("Successfully tagged " + ImageService.familiarTagged(t) + "\n");
      }
      return id;
    }

    private String stageName(Stage s) {
      List<String> a = s.from().args();
      return a.size() == 3 ? a.get(2) : null;
    }

    private void say(String text) throws IOException {
      out.send(Map.of("stream", text));
    }

    private void stepHeader(Dockerfile.Instruction i) throws IOException {
      step++;
      say("Step " + step + "/" + total + " : " + i.original() + "\n");
    }

    /**
     * An image a stage starts from or copies from: the local one, or pulled from its registry (with the build's
     * credentials for it, progress in the build's output) when absent, or always with {@code --pull} (unless
     * named by ID, which no registry serves).
     */
    private ImageService.Resolved baseImage(String name, String platform) throws IOException {
      if (!o.pull() || name.startsWith("sha256:")) {
        try {
          return images.resolve(name);
        } catch (EngineException e) {
          if (e.kind() != berth.engine.errdefs.ErrorKind.NOT_FOUND || name.startsWith("sha256:")) {
            throw e;
          }
        }
      }
      return images.pullForBuild(name, platform, o.registryConfig(), out);
    }

    private State runStage(Stage stage) throws IOException {
      Dockerfile.Instruction from = stage.from();
      stepHeader(from);
      State s = new State();
      s.name = stageName(stage);
      String platform = from.flag("platform");
      if (platform != null && !lex.word(platform, metaArgs::get).startsWith("linux/amd64")
          && !lex.word(platform, metaArgs::get).equals("linux")) {
        throw EngineException.invalid("unsupported platform %s: this engine builds linux/amd64 images", platform);
      }
      String base = lex.word(from.args().get(0), metaArgs::get);
      if (base.isEmpty()) {
        throw EngineException.invalid("base name (%s) should not be blank", from.args().get(0));
      }
      State prior = stageByName(base);
      if (prior != null) {
        s.imageId = prior.imageId;
        s.config = prior.config.deepCopy();
      } else if (!base.equalsIgnoreCase("scratch")) {
        ImageService.Resolved img = baseImage(base, platform == null ? null : lex.word(platform, metaArgs::get));
        s.imageId = img.id();
        JsonNode c = img.config().path("config");
        s.config = c.isObject() ? ((ObjectNode) c).deepCopy() : JSON.createObjectNode();
      }
      if (s.imageId != null) {
        say(" ---> " + s.imageId.substring(7, 19) + "\n");
      }
      JsonNode triggers = s.config.path("OnBuild");
      if (triggers.isArray() && triggers.size() > 0) {
        List<String> t = new ArrayList<>();
        triggers.forEach(x -> t.add(x.asText()));
        s.config.putNull("OnBuild");
        say("# Executing " + t.size() + " build trigger" + (t.size() == 1 ? "" : "s") + "\n");
        for (String trigger : t) {
          dispatch(s, Dockerfile.instruction(trigger, from.line(), file.escape()));
        }
      }
      for (Dockerfile.Instruction i : stage.steps()) {
        stepHeader(i);
        dispatch(s, i);
      }
      return s;
    }

    private State stageByName(String name) {
      for (int i = 0; i < done.size(); i++) {
        State d = done.get(i);
        if (name.equalsIgnoreCase(d.name) || name.equals(Integer.toString(i))) {
          return d;
        }
      }
      return null;
    }

    // ---- variables ---------------------------------------------------------------------------

    /** A variable as instructions see it: the stage's ENV first, then its ARGs. */
    private String lookup(State s, String name) {
      for (JsonNode e : s.config.path("Env")) {
        String v = e.asText();
        if (v.startsWith(name + "=")) {
          return v.substring(name.length() + 1);
        }
      }
      return s.args.get(name);
    }

    /** ARG name[=default]: returns {name, default-or-null} (default expanded). */
    private String[] argDecl(Dockerfile.Instruction a, java.util.function.Function<String, String> env) {
      String decl = a.args().get(0);
      int eq = decl.indexOf('=');
      String name = eq < 0 ? decl : decl.substring(0, eq);
      String dflt = eq < 0 ? null : lex.word(decl.substring(eq + 1), env);
      return new String[] {name, dflt};
    }

    /** The ARG values in effect for a RUN, not shadowed by ENV, sorted by name. */
    private Map<String, String> runArgs(State s) {
      Map<String, String> out = new TreeMap<>();
      s.args.forEach((k, v) -> {
        if (v != null && lookupEnvOnly(s, k) == null) {
          out.put(k, v);
        }
      });
      for (String p : PROXY_ARGS) {
        String v = o.buildArgs().get(p);
        if (v != null && !s.args.containsKey(p)) {
          out.put(p, v);
        }
      }
      return out;
    }

    private String lookupEnvOnly(State s, String name) {
      for (JsonNode e : s.config.path("Env")) {
        if (e.asText().startsWith(name + "=")) {
          return e.asText();
        }
      }
      return null;
    }

    // ---- instructions ------------------------------------------------------------------------

    private void dispatch(State s, Dockerfile.Instruction i) throws IOException {
      java.util.function.Function<String, String> env = n -> lookup(s, n);
      ObjectNode c = s.config.deepCopy();
      switch (i.keyword()) {
        case "RUN" -> run(s, i);
        case "COPY", "ADD" -> copy(s, i);
        case "WORKDIR" -> workdir(s, i);
        case "ENV" -> {
          ArrayNode envs = c.has("Env") && c.get("Env").isArray() ? (ArrayNode) c.get("Env") : c.putArray("Env");
          StringBuilder comment = new StringBuilder("ENV");
          for (int k = 0; k < i.args().size(); k += 2) {
            String key = lex.word(i.args().get(k), env);
            String val = lex.word(i.args().get(k + 1), env);
            for (int x = envs.size() - 1; x >= 0; x--) {
              if (envs.get(x).asText().startsWith(key + "=")) {
                envs.remove(x);
              }
            }
            envs.add(key + "=" + val);
            comment.append(' ').append(key).append('=').append(val);
          }
          meta(s, c, comment.toString());
        }
        case "LABEL" -> {
          ObjectNode labels = c.has("Labels") && c.get("Labels").isObject() ? (ObjectNode) c.get("Labels")
              : c.putObject("Labels");
          StringBuilder comment = new StringBuilder("LABEL");
          for (int k = 0; k < i.args().size(); k += 2) {
            String key = lex.word(i.args().get(k), env);
            String val = lex.word(i.args().get(k + 1), env);
            labels.put(key, val);
            comment.append(' ').append(key).append('=').append(val);
          }
          meta(s, c, comment.toString());
        }
        case "ARG" -> {
          String[] kv = argDecl(i, env);
          String value = kv[1];
          if (o.buildArgs().containsKey(kv[0]) && o.buildArgs().get(kv[0]) != null) {
            value = o.buildArgs().get(kv[0]);
          } else if (value == null && metaArgs.containsKey(kv[0])) {
            value = metaArgs.get(kv[0]);
          }
          s.args.put(kv[0], value);
          usedArgs.add(kv[0]);
          meta(s, c, "ARG " + kv[0] + (value == null ? "" : "=" + value));
        }
        case "CMD" -> {
          c.set("Cmd", array(command(s, i)));
          s.cmdSet = true;
          meta(s, c, "CMD " + goQuote(command(s, i)));
        }
        case "ENTRYPOINT" -> {
          List<String> ep = i.args().isEmpty() ? List.of() : command(s, i);
          c.set("Entrypoint", ep.isEmpty() ? JSON.nullNode() : array(ep));
          if (!s.cmdSet) {
            c.putNull("Cmd");
          }
          meta(s, c, "ENTRYPOINT " + goQuote(ep));
        }
        case "EXPOSE" -> {
          ObjectNode ports = c.has("ExposedPorts") && c.get("ExposedPorts").isObject()
              ? (ObjectNode) c.get("ExposedPorts") : c.putObject("ExposedPorts");
          List<String> specs = new ArrayList<>();
          for (String w : i.args()) {
            specs.addAll(lex.words(w, env));
          }
          for (String p : specs) {
            for (String port : ports(p, i.line())) {
              ports.putObject(port);
            }
          }
          meta(s, c, "EXPOSE " + String.join(" ", specs));
        }
        case "USER" -> {
          c.put("User", lex.word(i.args().get(0), env));
          meta(s, c, "USER " + c.get("User").asText());
        }
        case "VOLUME" -> {
          ObjectNode vols = c.has("Volumes") && c.get("Volumes").isObject() ? (ObjectNode) c.get("Volumes")
              : c.putObject("Volumes");
          List<String> vs = new ArrayList<>();
          for (String w : i.args()) {
            vs.addAll(i.json() ? List.of(lex.word(w, env)) : lex.words(w, env));
          }
          for (String v : vs) {
            if (v.isBlank()) {
              throw EngineException.invalid("VOLUME specified can not be an empty string");
            }
            vols.putObject(v);
          }
          meta(s, c, "VOLUME " + "[" + String.join(" ", vs) + "]");
        }
        case "STOPSIGNAL" -> {
          String sig = lex.word(i.args().get(0), env);
          c.put("StopSignal", sig);
          meta(s, c, "STOPSIGNAL " + sig);
        }
        case "SHELL" -> {
          if (i.args().isEmpty()) {
            throw EngineException.invalid("SHELL requires at least one argument");
          }
          c.set("Shell", array(i.args()));
          meta(s, c, "SHELL " + goQuote(i.args()));
        }
        case "HEALTHCHECK" -> {
          c.set("Healthcheck", healthcheck(i));
          meta(s, c, "HEALTHCHECK " + JSON.writeValueAsString(c.get("Healthcheck")));
        }
        case "ONBUILD" -> {
          ArrayNode t = c.has("OnBuild") && c.get("OnBuild").isArray() ? (ArrayNode) c.get("OnBuild")
              : c.putArray("OnBuild");
          Dockerfile.Instruction trig = Dockerfile.instruction(i.args().get(0), i.line(), file.escape());
          String text = trig.keyword() + " " + trig.original().substring(trig.original().indexOf(' ') + 1).strip();
          t.add(text);
          meta(s, c, "ONBUILD " + text);
        }
        case "MAINTAINER" -> {
          s.author = lex.word(i.args().get(0), env);
          meta(s, c, "MAINTAINER " + s.author);
        }
        case "FROM" -> throw EngineException.invalid("dockerfile parse error on line %d: FROM in an ONBUILD trigger",
            i.line());
        default -> throw EngineException.invalid("dockerfile parse error on line %d: unknown instruction: %s",
            i.line(), i.keyword());
      }
    }

    /** CMD/ENTRYPOINT/RUN arguments: the JSON array, or the shell form under the stage's SHELL. */
    private List<String> command(State s, Dockerfile.Instruction i) {
      if (i.json()) {
        return i.args();
      }
      List<String> out = new ArrayList<>(shell(s));
      out.add(i.args().isEmpty() ? "" : i.args().get(0));
      return out;
    }

    private List<String> shell(State s) {
      JsonNode sh = s.config.path("Shell");
      if (sh.isArray() && sh.size() > 0) {
        List<String> out = new ArrayList<>();
        sh.forEach(x -> out.add(x.asText()));
        return out;
      }
      return List.of("/bin/sh", "-c");
    }

    /** A metadata-only step: a new image with the same layers and no layer of its own. */
    private void meta(State s, ObjectNode newConfig, String comment) throws IOException {
      List<String> marker = new ArrayList<>(shell(s));
      marker.add("#(nop) " + comment);
      step(s, newConfig, marker, String.join(" ", marker), null);
    }

    /** Makes the step's changes in a writable layer; returns its key (the caller's cleanup removes it). */
    private interface Work {
      String apply() throws IOException;
    }

    /**
     * Takes a step from the cache (a child image of the current one with the same container config) or does
     * it and commits the result as the new current image.
     */
    private void step(State s, ObjectNode newConfig, List<String> marker, String createdBy, Work work)
        throws IOException {
      ObjectNode cacheKey = newConfig.deepCopy();
      cacheKey.set("Cmd", array(marker));
      if (!o.noCache()) {
        for (String child : images.childrenOf(s.imageId)) {
          ImageService.Resolved r = images.resolve(child);
          if (cacheKey.equals(r.config().path("container_config")) && hold(r.id())) {
            say(" ---> Using cache\n");
            images.buildCache().used(r.id());
            s.imageId = r.id();
            JsonNode cfg = r.config().path("config");
            s.config = cfg.isObject() ? ((ObjectNode) cfg).deepCopy() : JSON.createObjectNode();
            say(" ---> " + s.imageId.substring(7, 19) + "\n");
            return;
          }
        }
      }
      String key = work == null ? null : work.apply();
      try {
        s.imageId = images.commitStep(new ImageService.StepSpec(s.imageId, key, newConfig, cacheKey, createdBy, null,
            s.author, true));
        if (!holding.add(s.imageId)) {
          images.buildCache().release(s.imageId); // commitStep's hold; this build holds it already
        }
      } finally {
        if (key != null) {
          finish(key);
        }
      }
      s.config = newConfig;
      say(" ---> " + s.imageId.substring(7, 19) + "\n");
    }

    /** After a step's commit: the RUN container removed (as told), or the COPY/WORKDIR writable layer. */
    private void finish(String key) throws IOException {
      if (key.startsWith(WRITABLE_PREFIX)) {
        layers.removeWritable(key);
      } else if (o.remove() || o.forceRemove()) {
        containers.remove(key, true, true);
        say("Removing intermediate container " + key.substring(0, 12) + "\n");
      }
    }

    // ---- RUN ----------------------------------------------------------------------------------

    private void run(State s, Dockerfile.Instruction i) throws IOException {
      if (s.imageId == null) {
        throw EngineException.invalid("RUN needs a base image: a FROM scratch stage has no shell to run %s",
            i.rest());
      }
      List<String> cmd = command(s, i);
      Map<String, String> args = runArgs(s);
      // proxy settings reach the command but, undeclared, stay out of the cache key and the history (as dockerd)
      Map<String, String> keyed = new TreeMap<>(args);
      keyed.keySet().removeIf(k -> PROXY_ARGS.contains(k) && !s.args.containsKey(k));
      List<String> marker = new ArrayList<>();
      if (!keyed.isEmpty()) {
        marker.add("|" + keyed.size());
        keyed.forEach((k, v) -> marker.add(k + "=" + v));
      }
      marker.addAll(cmd);
      String createdBy = String.join(" ", marker);
      for (String k : args.keySet()) {
        usedArgs.add(k);
      }
      step(s, s.config.deepCopy(), marker, createdBy, () -> runContainer(s, cmd, args));
    }

    private String runContainer(State s, List<String> cmd, Map<String, String> args) throws IOException {
      ObjectNode cfg = s.config.deepCopy();
      cfg.set("Cmd", array(cmd));
      cfg.set("Entrypoint", JSON.createArrayNode());
      ArrayNode env = cfg.has("Env") && cfg.get("Env").isArray() ? (ArrayNode) cfg.get("Env") : cfg.putArray("Env");
      args.forEach((k, v) -> env.add(k + "=" + v));
      cfg.put("Image", s.imageId);
      cfg.remove("Healthcheck"); // a build step is not health-checked
      cfg.put("AttachStdout", true);
      cfg.put("AttachStderr", true);
      ContainerConfig config = ApiJson.MAPPER.convertValue(cfg, ContainerConfig.class);
      HostConfig hostConfig = ApiJson.MAPPER.convertValue(o.runHostConfig(), HostConfig.class);
      String id = containers.create(null, new ContainerCreateRequest(config, hostConfig, null));
      boolean ok = false;
      try {
        say(" ---> Running in " + id.substring(0, 12) + "\n");
        CompletableFuture<Integer> exit = containers.waitFor(id, "next-exit");
        containers.start(id);
        StringBuilder tail = new StringBuilder();
        containers.logs(id, ReadOptions.all().withFollow(true), e -> {
          tail.append(e.text());
          if (tail.length() > 2 * TAIL_CHARS) {
            tail.delete(0, tail.length() - TAIL_CHARS);
          }
          try {
            out.send(Map.of("stream", e.text()));
          } catch (IOException gone) {
            throw new java.io.UncheckedIOException(gone);
          }
        }, () -> false);
        int code;
        try {
          code = exit.get();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while waiting for the build step");
        } catch (ExecutionException e) {
          throw new IOException("build step failed", e.getCause());
        }
        if (code != 0) {
          throw new CommandFailed(String.format("The command '%s' returned a non-zero code: %d", String.join(" ", cmd),
              code) + lastLines(tail), code);
        }
        ok = true;
        return id;
      } finally {
        if (!ok && (o.remove() || o.forceRemove())) {
          try {
            containers.remove(id, true, true);
          } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "could not remove build container " + id, e);
          }
        }
      }
    }

    // ---- WORKDIR ------------------------------------------------------------------------------

    private void workdir(State s, Dockerfile.Instruction i) throws IOException {
      String dir = lex.word(i.args().get(0), n -> lookup(s, n));
      String cur = s.config.path("WorkingDir").asText("");
      String abs = dir.startsWith("/") ? dir : (cur.isEmpty() ? "/" : cur) + "/" + dir;
      abs = DockerIgnore.clean(abs);
      ObjectNode c = s.config.deepCopy();
      c.put("WorkingDir", abs);
      List<String> marker = new ArrayList<>(shell(s));
      marker.add("#(nop) WORKDIR " + abs);
      String target = abs;
      step(s, c, marker, String.join(" ", marker), () -> inRootfs(s.imageId, root -> {
        Path p = berth.engine.runtime.UserResolver.resolveInRoot(root, target);
        if (!Files.isDirectory(p)) {
          Copier.mkdirs(root, target, 0, 0);
        }
      }));
    }

    /** Mounts a writable layer over an image (or nothing), lets {@code fn} change it, and returns its key. */
    private String inRootfs(String imageId, Copier.RootfsChange fn) throws IOException {
      String key = WRITABLE_PREFIX + UUID.randomUUID().toString().replace("-", "");
      List<Digest> diffs = imageId == null ? List.of()
          : images.resolve(imageId).diffIds().stream().map(Digest::parse).toList();
      boolean ok = false;
      try {
        MountSpec spec = layers.prepare(key, diffs);
        Path mnt = ctx.scratch("mnt-" + key);
        Mounts.mount(spec, mnt);
        try {
          fn.apply(mnt);
        } finally {
          Mounts.unmount(mnt);
          Files.deleteIfExists(mnt);
        }
        ok = true;
        return key;
      } finally {
        if (!ok) {
          layers.removeWritable(key);
        }
      }
    }

    // ---- COPY / ADD ---------------------------------------------------------------------------

    private void copy(State s, Dockerfile.Instruction i) throws IOException {
      java.util.function.Function<String, String> env = n -> lookup(s, n);
      for (String f : i.flags().keySet()) {
        if (!Set.of("from", "chown", "chmod").contains(f) || f.equals("from") && i.keyword().equals("ADD")) {
          throw EngineException.invalid("dockerfile parse error on line %d: unknown flag: %s", i.line(), f);
        }
      }
      List<String> words = new ArrayList<>();
      for (String a : i.args()) {
        if (i.json()) {
          words.add(lex.word(a, env));
        } else {
          words.addAll(lex.words(a, env));
        }
      }
      if (words.size() < 2) {
        throw EngineException.invalid("%s requires at least two arguments", i.keyword());
      }
      List<String> srcs = words.subList(0, words.size() - 1);
      String dest = words.get(words.size() - 1);
      String cur = s.config.path("WorkingDir").asText("");
      boolean destIsDir = dest.endsWith("/") || dest.equals(".") || dest.endsWith("/.");
      String absDest = dest.startsWith("/") ? dest : (cur.isEmpty() ? "/" : cur) + "/" + dest;
      absDest = DockerIgnore.clean(absDest);
      String chown = i.flag("chown") == null ? null : lex.word(i.flag("chown"), env);
      Integer chmod = null;
      if (i.flag("chmod") != null) {
        try {
          chmod = Integer.parseInt(i.flag("chmod"), 8);
        } catch (NumberFormatException e) {
          throw EngineException.invalid("invalid chmod parameter: %s", i.flag("chmod"));
        }
        if (chmod > 07777) {
          throw EngineException.invalid("invalid chmod parameter: %s", i.flag("chmod"));
        }
      }
      String from = i.flag("from") == null ? null : lex.word(i.flag("from"), metaArgs::get);
      Integer fchmod = chmod;
      String fdest = absDest;
      if (from == null) {
        copyFrom(s, i, ctx.files(), true, srcs, fdest, destIsDir, chown, fchmod, null);
        return;
      }
      State stage = stageByName(from);
      String fromImage;
      if (stage != null) {
        fromImage = stage.imageId;
      } else {
        if (from.equalsIgnoreCase(s.name)) {
          throw EngineException.invalid("invalid from flag value %s: circular dependency detected", from);
        }
        try {
          fromImage = baseImage(from, null).id();
        } catch (EngineException e) {
          throw e.withContext("invalid from flag value " + from); // not a stage, and no image either
        }
      }
      if (fromImage == null) {
        throw EngineException.invalid("COPY --from=%s: that stage has no files", from);
      }
      String key = inRootfs(fromImage, root -> copyFrom(s, i, root, false, srcs, fdest, destIsDir, chown, fchmod,
          "from=" + from));
      layers.removeWritable(key); // only read: its mount is gone, nothing of it is kept
    }

    private void copyFrom(State s, Dockerfile.Instruction i, Path srcRoot, boolean context, List<String> srcs,
        String dest, boolean destIsDir, String chown, Integer chmod, String fromFlag) throws IOException {
      String cmd = i.keyword();
      List<Copier.Source> sources = new ArrayList<>();
      for (String src : srcs) {
        if (cmd.equals("ADD") && (src.startsWith("http://") || src.startsWith("https://"))) {
          sources.add(Copier.download(src, ctx.scratch("downloads-" + UUID.randomUUID()), destIsDir));
          continue;
        }
        if (cmd.equals("ADD") && (src.startsWith("git@") || src.endsWith(".git") && src.contains("://"))) {
          throw EngineException.notImplemented("ADD %s: git sources are not supported by the classic builder", src);
        }
        sources.addAll(Copier.sources(srcRoot, context, src, cmd));
      }
      if (sources.size() > 1 && !destIsDir) {
        throw EngineException.invalid("When using %s with more than one source file, the destination must be a "
            + "directory and end with a /", cmd);
      }
      String sum = Copier.checksum(sources, !context);
      String kind = sources.size() > 1 ? "multi" : Files.isDirectory(sources.get(0).path()) ? "dir" : "file";
      StringBuilder comment = new StringBuilder(cmd);
      if (fromFlag != null) {
        comment.append(" --").append(fromFlag);
      }
      if (chown != null) {
        comment.append(" --chown=").append(chown);
      }
      if (chmod != null) {
        comment.append(" --chmod=").append(Integer.toOctalString(chmod));
      }
      comment.append(' ').append(kind).append(':').append(sum).append(" in ").append(dest).append(destIsDir ? "/" : "")
          .append(' ');
      List<String> marker = new ArrayList<>(shell(s));
      marker.add("#(nop) " + comment);
      step(s, s.config.deepCopy(), marker, String.join(" ", marker), () -> inRootfs(s.imageId, root -> {
        new Copier(root, Copier.owner(root, chown), chmod, cmd.equals("ADD")).copy(sources, dest, destIsDir);
      }));
    }

    // ---- helpers ------------------------------------------------------------------------------

    private JsonNode healthcheck(Dockerfile.Instruction i) {
      ObjectNode h = JSON.createObjectNode();
      String kind = i.args().get(0).toUpperCase(Locale.ROOT);
      if (kind.equals("NONE")) {
        if (i.args().size() > 1 || !i.flags().isEmpty()) {
          throw EngineException.invalid("HEALTHCHECK NONE takes no arguments");
        }
        h.set("Test", array(List.of("NONE")));
        return h;
      }
      if (!kind.equals("CMD")) {
        throw EngineException.invalid("Unknown type \"%s\" in HEALTHCHECK (try CMD)", i.args().get(0));
      }
      List<String> test = new ArrayList<>();
      if (i.json()) {
        test.add("CMD");
        test.addAll(i.args().subList(1, i.args().size()));
      } else {
        test.add("CMD-SHELL");
        test.add(i.args().size() > 1 ? i.args().get(1) : "");
      }
      h.set("Test", array(test));
      for (Map.Entry<String, String> f : i.flags().entrySet()) {
        switch (f.getKey()) {
          case "interval" -> h.put("Interval", goDuration(f.getValue(), "--interval"));
          case "timeout" -> h.put("Timeout", goDuration(f.getValue(), "--timeout"));
          case "start-period" -> h.put("StartPeriod", goDuration(f.getValue(), "--start-period"));
          case "start-interval" -> h.put("StartInterval", goDuration(f.getValue(), "--start-interval"));
          case "retries" -> {
            try {
              h.put("Retries", Integer.parseInt(f.getValue()));
            } catch (NumberFormatException e) {
              throw EngineException.invalid("invalid --retries value: %s", f.getValue());
            }
          }
          default -> throw EngineException.invalid("unknown flag: %s", f.getKey());
        }
      }
      return h;
    }
  }

  static ArrayNode array(List<String> l) {
    ArrayNode a = JSON.createArrayNode();
    l.forEach(a::add);
    return a;
  }

  /**
   * The last lines a failed RUN printed, for its error (dockerd's message says only the code; under {@code -q}
   * or in a CI log the output can be far from the error).
   */
  static String lastLines(CharSequence output) {
    String[] lines = output.toString().split("\r?\n");
    List<String> keep = new ArrayList<>();
    for (int k = lines.length - 1; k >= 0 && keep.size() < TAIL_LINES; k--) {
      if (!lines[k].isBlank() || !keep.isEmpty()) {
        keep.add(0, lines[k]);
      }
    }
    while (!keep.isEmpty() && keep.get(0).isBlank()) {
      keep.remove(0);
    }
    return keep.isEmpty() ? "" : "\nlast output:\n  " + String.join("\n  ", keep);
  }

  /** Go's %q of a []string: ["a" "b"]. */
  static String goQuote(List<String> l) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < l.size(); i++) {
      if (i > 0) {
        b.append(' ');
      }
      b.append(quote(l.get(i)));
    }
    return b.append(']').toString();
  }

  private static String quote(String s) {
    try {
      return JSON.writeValueAsString(s);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** EXPOSE's port specs: 80, 80/udp, 8000-8002/tcp → "80/tcp" ... */
  static List<String> ports(String spec, int line) {
    String proto = "tcp";
    String p = spec;
    int slash = spec.indexOf('/');
    if (slash >= 0) {
      proto = spec.substring(slash + 1).toLowerCase(Locale.ROOT);
      p = spec.substring(0, slash);
    }
    if (!Set.of("tcp", "udp", "sctp").contains(proto)) {
      throw EngineException.invalid("invalid proto: %s", proto);
    }
    List<String> out = new ArrayList<>();
    try {
      int dash = p.indexOf('-');
      int lo = Integer.parseInt(dash < 0 ? p : p.substring(0, dash));
      int hi = dash < 0 ? lo : Integer.parseInt(p.substring(dash + 1));
      if (lo < 0 || hi > 65535 || hi < lo) {
        throw new NumberFormatException();
      }
      for (int x = lo; x <= hi; x++) {
        out.add(x + "/" + proto);
      }
    } catch (NumberFormatException e) {
      throw EngineException.invalid("invalid containerPort: %s", p);
    }
    return out;
  }

  /** Go's time.ParseDuration, as HEALTHCHECK's flags take it; nanoseconds. */
  static long goDuration(String s, String flag) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)").matcher(s);
    long total = 0;
    int at = 0;
    while (m.find() && m.start() == at) {
      double v = Double.parseDouble(m.group(1));
      long unit = switch (m.group(2)) {
        case "ns" -> 1L;
        case "us", "µs" -> 1_000L;
        case "ms" -> 1_000_000L;
        case "s" -> 1_000_000_000L;
        case "m" -> 60_000_000_000L;
        default -> 3_600_000_000_000L;
      };
      total += (long) (v * unit);
      at = m.end();
    }
    if (at != s.length() || s.isEmpty()) {
      throw EngineException.invalid("invalid argument \"%s\" for \"%s\" flag: time: invalid duration \"%s\"", s, flag,
          s);
    }
    return total;
  }
}
