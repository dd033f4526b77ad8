package berth.engine.distribution;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ChallengeTest {
  @Test
  void bearerWithQuotedParameters() {
    List<Challenge> cs = Challenge.parse(
        "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\"");
    assertEquals(1, cs.size());
    Challenge c = cs.get(0);
    assertTrue(c.isBearer());
    assertEquals("https://auth.docker.io/token", c.param("realm"));
    assertEquals("registry.docker.io", c.param("service"));
    assertEquals("repository:library/busybox:pull", c.param("scope"));
  }

  @Test
  void commasInsideQuotesAndEscapesStayInTheValue() {
    Challenge c = Challenge.parse("Bearer realm=\"http://t/token\", scope=\"repository:a/b:pull,push\", "
        + "error=\"insufficient_scope\", x=\"say \\\"hi\\\"\"").get(0);
    assertEquals("repository:a/b:pull,push", c.param("scope"));
    assertEquals("insufficient_scope", c.param("error"));
    assertEquals("say \"hi\"", c.param("x"));
  }

  @Test
  void basicAndSeveralChallengesInOneHeader() {
    List<Challenge> cs = Challenge.parse("Basic realm=\"berth-test\", Bearer realm=\"http://t\",service=s");
    assertEquals(2, cs.size());
    assertTrue(cs.get(0).isBasic());
    assertEquals("berth-test", cs.get(0).param("realm"));
    assertTrue(cs.get(1).isBearer());
    assertEquals("s", cs.get(1).param("service"));
  }

  @Test
  void caseInsensitiveSchemeAndParameterNames() {
    Challenge c = Challenge.parse("bearer Realm=\"http://t\"").get(0);
    assertTrue(c.isBearer());
    assertEquals("http://t", c.param("realm"));
  }

  @Test
  void nothingOrGarbageGivesNoChallenge() {
    assertEquals(List.of(), Challenge.parse(null));
    assertEquals(List.of(), Challenge.parse(""));
    assertEquals(List.of(), Challenge.parse(" , ,"));
  }
}
