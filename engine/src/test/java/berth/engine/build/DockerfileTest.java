package berth.engine.build;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Dockerfile parser, the variable substitution and .dockerignore matching, as Docker's behave. */
class DockerfileTest {

  private static Dockerfile.Instruction only(String text) {
    List<Dockerfile.Instruction> all = Dockerfile.parse(text).instructions();
    assertEquals(1, all.size(), all.toString());
    return all.get(0);
  }

  private static EngineException refused(String text) {
    EngineException e = assertThrows(EngineException.class, () -> Dockerfile.parse(text));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    return e;
  }

  @Test
  void commentsBlankLinesAndContinuationsJoinAsDockerDoes() {
    Dockerfile d = Dockerfile.parse("""
        # leading comment
        from busybox AS base

        RUN echo a \\
          # a comment inside is dropped
            && echo b
        CMD ["sh"]
        """);
    List<Dockerfile.Instruction> i = d.instructions();
    assertEquals(3, i.size());
    assertEquals("FROM", i.get(0).keyword(), "keywords are case-insensitive");
    assertEquals(List.of("busybox", "AS", "base"), i.get(0).args());
    assertEquals(2, i.get(0).line());
    assertEquals("RUN", i.get(1).keyword());
    assertEquals(List.of("echo a     && echo b"), i.get(1).args());
    assertEquals(4, i.get(1).line());
    assertEquals("RUN echo a     && echo b", i.get(1).original());
    assertTrue(i.get(2).json());
    assertEquals(List.of("sh"), i.get(2).args());
  }

  @Test
  void jsonAndShellFormsAreToldApart() {
    Dockerfile.Instruction json = only("RUN [\"echo\", \"a b\"]");
    assertTrue(json.json());
    assertEquals(List.of("echo", "a b"), json.args());
    Dockerfile.Instruction notJson = only("RUN [not json");
    assertFalse(notJson.json());
    assertEquals(List.of("[not json"), notJson.args());
    Dockerfile.Instruction numbers = only("CMD [1, 2]");
    assertFalse(numbers.json(), "an array of non-strings is the shell form");
    assertEquals(List.of("/data", "/logs"), only("VOLUME [\"/data\", \"/logs\"]").args());
    assertEquals(List.of("/data", "/logs"), only("VOLUME /data /logs").args());
    assertTrue(refused("SHELL /bin/bash -c").getMessage().contains("SHELL requires the arguments to be in JSON form"));
  }

  @Test
  void flagsAreSplitOffWhereDockerTakesThem() {
    Dockerfile.Instruction c = only("COPY --from=build --chown=1000:1000 /out/app /usr/local/bin/");
    assertEquals(Map.of("from", "build", "chown", "1000:1000"), c.flags());
    assertEquals(List.of("/out/app", "/usr/local/bin/"), c.args());
    Dockerfile.Instruction h = only("HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost");
    assertEquals(Map.of("interval", "5s", "retries", "3"), h.flags());
    assertEquals(List.of("CMD", "wget -q localhost"), h.args());
    assertEquals(List.of("--not-a-flag"), only("CMD --not-a-flag").args(), "CMD takes no flags");
  }

  @Test
  void envAndLabelTakePairsOrTheLegacyForm() {
    assertEquals(List.of("A", "1", "B", "\"two words\"", "C", "x\\ y"),
        only("ENV A=1 B=\"two words\" C=x\\ y").args());
    assertEquals(List.of("GREETING", "hello there world"), only("ENV GREETING hello there world").args());
    assertEquals(List.of("org.example.v", "'1 0'"), only("LABEL org.example.v='1 0'").args());
    assertTrue(refused("ENV ONLYKEY").getMessage().contains("line 1: ENV must have two arguments"));
  }

  @Test
  void directivesSetTheEscapeAndIgnoreSyntax() {
    Dockerfile d = Dockerfile.parse("""
        # syntax=docker/dockerfile:1
        # escape=`
        FROM busybox
        RUN echo a `
            b
        COPY C:\\dir\\ /x/
        """);
    assertEquals('`', d.escape());
    assertEquals(1, d.warnings().size());
    assertTrue(d.warnings().get(0).contains("docker/dockerfile:1"), d.warnings().toString());
    assertEquals(List.of("echo a     b"), d.instructions().get(1).args());
    assertEquals(List.of("C:\\dir\\", "/x/"), d.instructions().get(2).args());
    // a directive after the first instruction (or after a comment) is only a comment
    Dockerfile late = Dockerfile.parse("FROM busybox\n# escape=`\nRUN echo \\\n  x\n");
    assertEquals('\\', late.escape());
    assertEquals(List.of("echo   x"), late.instructions().get(1).args());
    assertTrue(refused("# escape=x\nFROM busybox").getMessage().contains("invalid escape token"));
    assertTrue(refused("# escape=`\n# escape=\\\nFROM busybox").getMessage().contains("only one escape"));
  }

  @Test
  void syntaxErrorsNameTheLine() {
    EngineException unknown = refused("FROM busybox\n\nFOO bar\n");
    assertEquals("dockerfile parse error on line 3: unknown instruction: FOO", unknown.getMessage());
    assertTrue(refused("FROM a b\n").getMessage().startsWith("dockerfile parse error on line 1: FROM requires"));
    assertTrue(refused("FROM busybox\nCOPY onlyone\n").getMessage().contains("line 2: COPY requires at least two"));
    assertTrue(refused("FROM busybox\nARG\n").getMessage().contains("line 2: ARG requires exactly one argument"));
    assertTrue(refused("FROM busybox\nONBUILD FROM x\n").getMessage().contains("isn't allowed as an ONBUILD trigger"));
    assertTrue(refused("\n# only comments\n").getMessage().contains("cannot be empty"));
  }

  // ---- variable substitution ------------------------------------------------------------------

  private static final Map<String, String> ENV = Map.of("A", "alpha", "EMPTY", "", "SP", "x y");
  private final ShellLex lex = new ShellLex('\\');

  private String word(String s) {
    return lex.word(s, ENV::get);
  }

  @Test
  void variablesExpandWithDockersModifiers() {
    assertEquals("alpha", word("$A"));
    assertEquals("alpha-1", word("${A}-1"));
    assertEquals("/alpha/", word("/$A/"));
    assertEquals("", word("$NOPE"));
    assertEquals("dflt", word("${NOPE:-dflt}"));
    assertEquals("dflt", word("${EMPTY:-dflt}"));
    assertEquals("", word("${EMPTY-dflt}"), "without ':' only unset counts");
    assertEquals("set", word("${A:+set}"));
    assertEquals("", word("${EMPTY:+set}"));
    assertEquals("set", word("${EMPTY+set}"));
    assertEquals("alpha", word("${NOPE:-$A}"), "the word is itself expanded");
    EngineException e = assertThrows(EngineException.class, () -> word("${NOPE:?must be set}"));
    assertTrue(e.getMessage().contains("must be set"));
    assertThrows(EngineException.class, () -> word("${A"));
  }

  @Test
  void quotesAndEscapesDecideWhatExpands() {
    assertEquals("$A", word("'$A'"));
    assertEquals("alpha beta", word("\"$A beta\""));
    assertEquals("$A", word("\\$A"));
    assertEquals("$A", word("\"\\$A\""));
    assertEquals("a\\b", word("\"a\\b\""), "in double quotes only \\\", \\$ and \\\\ are escapes");
    assertEquals("$", word("$"));
    assertEquals("x y", word("$SP"), "a single word keeps its spaces");
    assertEquals(List.of("x", "y", "z w"), lex.words("$SP \"z w\"", ENV::get), "unquoted expansions split");
    assertEquals(List.of("$A"), new ShellLex('`').words("`$A", ENV::get));
  }

  // ---- .dockerignore --------------------------------------------------------------------------

  @Test
  void dockerignoreFollowsDockersPatternRules() {
    DockerIgnore i = DockerIgnore.parse("""
        # comment
        .git
        /secret.txt
        *.md
        !README.md
        **/*.log
        build/**
        !build/keep.txt
        .env*
        """);
    assertTrue(i.excluded(".git"));
    assertTrue(i.excluded(".git/config"), "a matching parent excludes what is in it");
    assertTrue(i.excluded("secret.txt"), "a leading / is dropped");
    assertFalse(i.excluded("sub/secret.txt"));
    assertTrue(i.excluded("NOTES.md"));
    assertFalse(i.excluded("README.md"), "! re-includes; the last match wins");
    assertFalse(i.excluded("docs/NOTES.md"), "* does not cross a /");
    assertTrue(i.excluded("app.log"), "**/ matches zero directories");
    assertTrue(i.excluded("a/b/c/app.log"));
    assertTrue(i.excluded("build/out/bin"));
    assertFalse(i.excluded("build/keep.txt"));
    assertTrue(i.excluded(".env"));
    assertTrue(i.excluded(".env.local"));
    assertFalse(i.excluded("src/main.js"));
    assertTrue(DockerIgnore.parse("\n# nothing\n").isEmpty());
    assertTrue(DockerIgnore.parse("a/../b?").excluded("bc"), "patterns are cleaned; ? is one character");
    assertTrue(DockerIgnore.parse("[a-c]x").excluded("bx"));
    assertFalse(DockerIgnore.parse("[!a-c]x").excluded("bx"));
  }

  @Test
  void exposeAndDurationsParseAsDockersDo() {
    assertEquals(List.of("80/tcp"), Builder.ports("80", 1));
    assertEquals(List.of("53/udp"), Builder.ports("53/UDP", 1));
    assertEquals(List.of("8000/tcp", "8001/tcp", "8002/tcp"), Builder.ports("8000-8002", 1));
    assertThrows(EngineException.class, () -> Builder.ports("http", 1));
    assertThrows(EngineException.class, () -> Builder.ports("80/icmp", 1));
    assertEquals(90_000_000_000L, Builder.goDuration("1m30s", "--interval"));
    assertEquals(1_500_000_000L, Builder.goDuration("1.5s", "--interval"));
    assertThrows(EngineException.class, () -> Builder.goDuration("5", "--interval"));
    assertEquals("[\"sh\" \"-c\" \"a \\\"b\\\"\"]", Builder.goQuote(List.of("sh", "-c", "a \"b\"")));
  }
}
