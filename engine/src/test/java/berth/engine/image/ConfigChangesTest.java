package berth.engine.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Dockerfile instructions {@code docker import --change} and {@code docker commit --change} accept. */
class ConfigChangesTest {
  private final ObjectMapper json = new ObjectMapper();
  private final ObjectNode config = json.createObjectNode();

  private ObjectNode apply(String... changes) {
    ConfigChanges.apply(config, List.of(changes));
    return config;
  }

  private EngineException refused(String... changes) {
    EngineException e = assertThrows(EngineException.class, () -> apply(changes));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    return e;
  }

  @Test
  void cmdInJsonFormIsTakenAsIs() {
    assertEquals("[\"sh\",\"-c\",\"echo hi\"]", apply("CMD [\"sh\", \"-c\", \"echo hi\"]").get("Cmd").toString());
  }

  @Test
  void cmdInShellFormRunsUnderBinSh() {
    assertEquals("[\"/bin/sh\",\"-c\",\"echo hi && sleep 1\"]", apply("CMD echo hi && sleep 1").get("Cmd").toString());
  }

  @Test
  void bracketThatIsNotJsonIsShellForm() {
    assertEquals("[\"/bin/sh\",\"-c\",\"[ -f /x ] && echo\"]", apply("CMD [ -f /x ] && echo").get("Cmd").toString());
  }

  @Test
  void entrypointSetsEntrypoint() {
    assertEquals("[\"/app\",\"--serve\"]", apply("ENTRYPOINT [\"/app\", \"--serve\"]").get("Entrypoint").toString());
  }

  @Test
  void instructionsAreCaseInsensitive() {
    assertEquals("[\"/bin/sh\",\"-c\",\"top\"]", apply("cmd top").get("Cmd").toString());
  }

  @Test
  void envTakesKeyValuePairsWithQuotes() {
    assertEquals("[\"A=1\",\"B=hello world\",\"C=it's\"]",
        apply("ENV A=1 B=\"hello world\" C=\"it's\"").get("Env").toString());
  }

  @Test
  void envKeepsSingleQuotedTextLiterally() {
    assertEquals("[\"A=$HOME x\"]", apply("ENV A='$HOME x'").get("Env").toString());
  }

  @Test
  void envReplacesAnExistingVariableAndKeepsTheOthers() {
    config.putArray("Env").add("PATH=/usr/bin").add("A=0");
    assertEquals("[\"PATH=/usr/bin\",\"A=1\"]", apply("ENV A=1").get("Env").toString());
  }

  @Test
  void envInLegacyFormTakesTheRestOfTheLineAsTheValue() {
    assertEquals("[\"MY_VAR=some value\"]", apply("ENV MY_VAR some value").get("Env").toString());
  }

  @Test
  void envInLegacyFormMayHaveAnEqualsSignInTheValue() {
    // Docker picks the form by the first word: no '=' in it means "ENV name value" (parseNameVal)
    assertEquals("[\"JAVA_OPTS=-Xmx1g -Dfoo=bar\"]", apply("ENV JAVA_OPTS -Xmx1g -Dfoo=bar").get("Env").toString());
  }

  @Test
  void envWithNameOnlyIsRefused() {
    assertEquals("ENV must have two arguments", refused("ENV LONELY").getMessage());
  }

  @Test
  void labelSetsLabelsIncludingQuotedKeys() {
    ObjectNode c = apply("LABEL version=1.0 \"com.example.desc\"=\"a b\"");
    assertEquals("1.0", c.get("Labels").get("version").asText());
    assertEquals("a b", c.get("Labels").get("com.example.desc").asText());
  }

  @Test
  void exposeWithoutProtocolIsTcp() {
    assertEquals("{\"80/tcp\":{}}", apply("EXPOSE 80").get("ExposedPorts").toString());
  }

  @Test
  void exposeKeepsAGivenProtocol() {
    assertEquals("{\"53/udp\":{},\"443/tcp\":{}}", apply("EXPOSE 53/udp 443/tcp").get("ExposedPorts").toString());
  }

  @Test
  void exposeOfARangeExposesEachPort() {
    // nat.ParsePortSpecs expands ranges: the config holds one key per port
    assertEquals("{\"8080/tcp\":{},\"8081/tcp\":{},\"8082/tcp\":{}}",
        apply("EXPOSE 8080-8082").get("ExposedPorts").toString());
  }

  @Test
  void exposeOfANonPortIsRefused() {
    assertEquals("invalid containerPort: http", refused("EXPOSE http").getMessage());
    assertEquals("invalid containerPort: 70000", refused("EXPOSE 70000").getMessage());
    refused("EXPOSE 90-80");
  }

  @Test
  void volumeTakesPathsInShellOrJsonForm() {
    assertEquals("{\"/data\":{}}", apply("VOLUME /data").get("Volumes").toString());
    assertEquals("{\"/data\":{},\"/a\":{},\"/b\":{}}", apply("VOLUME [\"/a\", \"/b\"]").get("Volumes").toString());
  }

  @Test
  void workdirUserStopsignalAndOnbuildAreSet() {
    ObjectNode c = apply("WORKDIR /app", "USER nobody:nogroup", "STOPSIGNAL SIGQUIT", "ONBUILD RUN make");
    assertEquals("/app", c.get("WorkingDir").asText());
    assertEquals("nobody:nogroup", c.get("User").asText());
    assertEquals("SIGQUIT", c.get("StopSignal").asText());
    assertEquals("[\"RUN make\"]", c.get("OnBuild").toString());
  }

  @Test
  void oneChangeMayHoldSeveralLines() {
    ObjectNode c = apply("ENV A=1\nLABEL b=2\n\nUSER app");
    assertEquals("[\"A=1\"]", c.get("Env").toString());
    assertEquals("2", c.get("Labels").get("b").asText());
    assertEquals("app", c.get("User").asText());
  }

  @Test
  void instructionOutsideTheAllowedSetIsNotAValidChangeCommand() {
    assertEquals("from is not a valid change command", refused("FROM busybox").getMessage());
    assertEquals("run is not a valid change command", refused("RUN echo hi").getMessage());
    assertEquals("copy is not a valid change command", refused("copy a b").getMessage());
  }

  @Test
  void instructionWithoutArgumentsIsRefused() {
    assertEquals("CMD requires at least one argument", refused("CMD").getMessage());
  }
}
