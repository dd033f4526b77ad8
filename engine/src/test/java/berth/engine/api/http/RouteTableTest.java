package berth.engine.api.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Matching a method and raw path to a route: version prefix, parameters, 404/405, HEAD, min versions. */
class RouteTableTest {
  private static final Route.Handler NOOP = (req, res) -> { };
  private final Route ping = Route.get("/_ping", NOOP);
  private final Route pingHead = Route.head("/_ping", NOOP);
  private final Route imagesJson = Route.get("/images/json", NOOP);
  private final Route imageInspect = Route.get("/images/{name:.*}/json", NOOP);
  private final Route imageDelete = Route.delete("/images/{name:.*}", NOOP);
  private final Route containerInspect = Route.get("/containers/{id}/json", NOOP);
  private final Route containerStart = Route.post("/containers/{id}/start", NOOP);
  private final Route prune = Route.post("/volumes/prune", NOOP).minApiVersion("1.25");
  private final Route volumeDelete = Route.delete("/volumes/{name}", NOOP);
  private final RouteTable table = new RouteTable(List.of(
      () -> List.of(ping, pingHead, imagesJson, imageInspect, imageDelete),
      () -> List.of(containerInspect, containerStart, prune, volumeDelete)));

  @Test
  void pathWithoutPrefixIsAnsweredAtTheCurrentVersion() {
    RouteTable.Match m = table.find("GET", "/containers/abc/json");
    assertSame(containerInspect, m.route());
    assertEquals(ApiVersion.CURRENT, m.version());
    assertEquals("/containers/abc/json", m.path());
    assertEquals(Map.of("id", "abc"), m.params());
  }

  @Test
  void versionPrefixIsStrippedAndParsed() {
    RouteTable.Match m = table.find("GET", "/v1.30/containers/abc/json");
    assertSame(containerInspect, m.route());
    assertEquals(new ApiVersion(1, 30), m.version());
    assertEquals("/containers/abc/json", m.path());
  }

  @Test
  void supportedRangeIsInclusiveAtBothEnds() {
    assertEquals(ApiVersion.MIN, table.find("GET", "/v1.24/_ping").version());
    assertEquals(ApiVersion.CURRENT, table.find("GET", "/v1.47/_ping").version());
  }

  @Test
  void versionAboveCurrentIsInvalidWithDockersWording() {
    EngineException e = assertThrows(EngineException.class, () -> table.find("GET", "/v1.48/_ping"));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertEquals("client version 1.48 is too new. Maximum supported API version is 1.47", e.getMessage());
    assertEquals("client version 2.0 is too new. Maximum supported API version is 1.47",
        assertThrows(EngineException.class, () -> table.find("GET", "/v2.0/_ping")).getMessage());
  }

  @Test
  void versionBelowMinimumIsInvalidWithDockersWording() {
    EngineException e = assertThrows(EngineException.class, () -> table.find("GET", "/v1.23/_ping"));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertEquals("client version 1.23 is too old. Minimum supported API version is 1.24, "
        + "please upgrade your client to a newer version", e.getMessage());
  }

  @Test
  void versionsCompareNumericallyNotAsText() {
    // 1.5 is older than 1.24 although "1.5" > "1.24" as text
    assertEquals("client version 1.5 is too old. Minimum supported API version is 1.24, "
        + "please upgrade your client to a newer version",
        assertThrows(EngineException.class, () -> table.find("GET", "/v1.5/_ping")).getMessage());
    assertEquals(new ApiVersion(1, 40), table.find("GET", "/v1.40/_ping").version());
  }

  @Test
  void unknownPathIsNotFoundPageNotFound() {
    EngineException e = assertThrows(EngineException.class, () -> table.find("GET", "/nope"));
    assertEquals(ErrorKind.NOT_FOUND, e.kind());
    assertEquals("page not found", e.getMessage());
  }

  @Test
  void knownPathWithWrongMethodIsMethodNotAllowed() {
    EngineException e = assertThrows(EngineException.class, () -> table.find("POST", "/v1.44/_ping"));
    assertEquals(ErrorKind.METHOD_NOT_ALLOWED, e.kind());
    assertEquals(405, e.kind().httpStatus());
    assertEquals("method POST is not allowed on /_ping", e.getMessage());
  }

  @Test
  void trailingSlashIsIgnored() {
    assertSame(containerInspect, table.find("GET", "/containers/abc/json/").route());
  }

  @Test
  void plainParameterMatchesOneSegmentOnly() {
    assertThrows(EngineException.class, () -> table.find("GET", "/containers/a/b/json"));
  }

  @Test
  void greedyParameterCapturesAFullImageReference() {
    RouteTable.Match m = table.find("GET", "/v1.41/images/localhost:5000/a/b:tag/json");
    assertSame(imageInspect, m.route());
    assertEquals("localhost:5000/a/b:tag", m.params().get("name"));

    RouteTable.Match d = table.find("DELETE", "/images/registry.example.com:443/ns/img@sha256:" + "a".repeat(64));
    assertSame(imageDelete, d.route());
    assertEquals("registry.example.com:443/ns/img@sha256:" + "a".repeat(64), d.params().get("name"));
  }

  @Test
  void literalRouteListedFirstWinsOverAParameterisedOne() {
    assertSame(imagesJson, table.find("GET", "/images/json").route());
  }

  @Test
  void pathParametersArePercentDecodedAsPathSegments() {
    assertEquals("a b", table.find("GET", "/containers/a%20b/json").params().get("id"));
    assertEquals("a/b", table.find("GET", "/containers/a%2Fb/json").params().get("id"));
    assertEquals("a+b", table.find("GET", "/containers/a+b/json").params().get("id"));
    assertEquals("é", table.find("GET", "/containers/%C3%A9/json").params().get("id"));
    assertEquals("100%zz", table.find("GET", "/containers/100%zz/json").params().get("id"));
  }

  @Test
  void headIsAnsweredByTheGetRouteWhenThereIsNoHeadRoute() {
    assertSame(containerInspect, table.find("HEAD", "/containers/abc/json").route());
  }

  @Test
  void headRouteIsPreferredOverTheGetRouteForTheSamePath() {
    assertSame(pingHead, table.find("HEAD", "/_ping").route());
    assertSame(ping, table.find("GET", "/_ping").route());
  }

  @Test
  void routeWithMinimumVersionIsNotFoundBelowIt() {
    EngineException e = assertThrows(EngineException.class, () -> table.find("POST", "/v1.24/volumes/prune"));
    assertEquals(ErrorKind.NOT_FOUND, e.kind());
    assertSame(prune, table.find("POST", "/v1.25/volumes/prune").route());
    assertSame(prune, table.find("POST", "/volumes/prune").route());
  }

  @Test
  void routeBelowItsMinimumVersionIsNotFoundEvenWhenAnotherMethodsPatternMatchesThePath() {
    // DELETE /volumes/{name} matches "/volumes/prune" too; that must not turn the old-version POST into a 405
    EngineException e = assertThrows(EngineException.class, () -> table.find("POST", "/v1.24/volumes/prune"));
    assertEquals(ErrorKind.NOT_FOUND, e.kind());
    assertEquals("page not found", e.getMessage());
    assertEquals(Map.of("name", "prune"), table.find("DELETE", "/v1.24/volumes/prune").params());
  }
}
