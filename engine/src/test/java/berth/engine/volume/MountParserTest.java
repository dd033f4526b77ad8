package berth.engine.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.api.types.Mount;
import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class MountParserTest {
  private static Mount mount(String type, String source, String target) {
    return new Mount(target, source, type, null, null, null, null, null, null);
  }

  private static String invalid(Runnable r) {
    EngineException e = assertThrows(EngineException.class, r::run);
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    return e.getMessage();
  }

  @Test
  void bindSpecsBecomeBindsNamedOrAnonymousVolumes() {
    MountPoint b = MountParser.parseBind("/host/dir/:/ctr/../data:ro,rslave");
    assertEquals(MountPoint.BIND, b.type());
    assertEquals("/host/dir", b.source());
    assertEquals("/data", b.destination());
    assertFalse(b.rw());
    assertEquals("ro,rslave", b.mode());
    assertEquals("rslave", b.propagation());
    assertEquals(Boolean.TRUE, b.createSource(), "-v makes a missing host directory");

    MountPoint d = MountParser.parseBind("/h:/c");
    assertTrue(d.rw());
    assertEquals("rprivate", d.propagation());

    MountPoint v = MountParser.parseBind("myvol:/data:nocopy");
    assertEquals(MountPoint.VOLUME, v.type());
    assertEquals("myvol", v.name());
    assertNull(v.copyData(), "nocopy");
    assertEquals("", v.propagation());

    MountPoint a = MountParser.parseBind("/anon");
    assertEquals(MountPoint.VOLUME, a.type());
    assertNull(a.name());
    assertEquals(Boolean.TRUE, a.copyData());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "/foo:rw|invalid volume specification: '/foo:rw'",
      ":/x|invalid volume specification: ':/x'",
      "a:b:c:d|invalid volume specification: 'a:b:c:d'",
      "/h:/c:rx|invalid mode: rx",
      "/h:/c:ro,rw|invalid mode: ro,rw",
      "/h:/|invalid volume specification: '/h:/': invalid mount config for type \"bind\": invalid specification: "
          + "destination can't be '/'",
      "vol:rel|invalid volume specification: 'vol:rel': invalid mount config for type \"volume\": invalid mount path: "
          + "'rel' mount path must be absolute"})
  void badBindSpecsGetDockerdsMessages(String spec, String message) {
    assertEquals(message, invalid(() -> MountParser.parseBind(spec)));
  }

  @Test
  void mountSpecsAreCheckedAsDockerdDoes() {
    assertEquals("invalid mount config for type \"bind\": bind source path does not exist: /nope",
        invalid(() -> MountParser.parseMount(mount("bind", "/nope", "/x"), p -> false)));
    assertEquals("invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute",
        invalid(() -> MountParser.parseMount(mount("bind", "rel", "/x"), p -> true)));
    assertEquals("invalid mount config for type \"bind\": field Source must not be empty",
        invalid(() -> MountParser.parseMount(mount("bind", "", "/x"), p -> true)));
    assertEquals("invalid mount config for type \"nfs\": mount type unknown",
        invalid(() -> MountParser.parseMount(mount("nfs", "", "/x"), p -> true)));
    assertEquals("invalid mount config for type \"volume\": field Target must not be empty",
        invalid(() -> MountParser.parseMount(mount("volume", "v", null), p -> true)));
    assertEquals("invalid mount config for type \"tmpfs\": field Source must not be specified",
        invalid(() -> MountParser.parseMount(mount("tmpfs", "x", "/t"), p -> true)));
    assertEquals("invalid mount config for type \"volume\": field BindOptions must not be specified",
        invalid(() -> MountParser.parseMount(new Mount("/x", "v", "volume", null, null,
            new Mount.BindOptions("rshared", null, null, null, null), null, null, null), p -> true)));
    assertEquals("invalid mount config for type \"bind\": invalid propagation mode: sideways",
        invalid(() -> MountParser.parseMount(new Mount("/x", "/h", "bind", null, null,
            new Mount.BindOptions("sideways", null, null, null, null), null, null, null), p -> true)));

    MountPoint created = MountParser.parseMount(new Mount("/x", "/later", "bind", true, null,
        new Mount.BindOptions(null, null, true, null, null), null, null, null), p -> false);
    assertFalse(created.rw());
    assertEquals(Boolean.TRUE, created.createSource(), "CreateMountpoint lets a missing source through");

    MountPoint vol = MountParser.parseMount(new Mount("/data", "named", "volume", null, null, null,
        new Mount.VolumeOptions(true, Map.of("l", "1"), new Mount.Driver("local", Map.of("type", "tmpfs")), null),
        null, null), p -> true);
    assertEquals("named", vol.name());
    assertEquals("local", vol.driver());
    assertNull(vol.copyData());
    assertEquals(Map.of("type", "tmpfs"), vol.volumeOptions());
    assertEquals(Map.of("l", "1"), vol.volumeLabels());
  }

  @Test
  void tmpfsOptionsUseTheLargestEvenUnitAndOctalModes() {
    assertEquals("ro,mode=1777,size=2g,noexec", MountParser.tmpfsOptions(
        new Mount.TmpfsOptions(2L << 30, 01777, List.of(List.of("noexec"))), true));
    assertEquals("size=1536k", MountParser.tmpfsOptions(new Mount.TmpfsOptions(1536L * 1024, null, null), false));
    assertEquals("size=1000", MountParser.tmpfsOptions(new Mount.TmpfsOptions(1000L, 0, null), false));
    assertEquals("invalid mount config for type \"tmpfs\": invalid option: nosuid", invalid(() -> MountParser
        .parseMount(new Mount("/t", null, "tmpfs", null, null, null, null, null,
            new Mount.TmpfsOptions(null, null, List.of(List.of("nosuid")))), p -> true)));
  }

  @Test
  void volumesFromTakesRwOrRoButNoPropagationOrCopyMode() {
    assertArrayEquals(new String[] {"c1", "rw"}, MountParser.parseVolumesFrom("c1"));
    assertArrayEquals(new String[] {"c1", "ro"}, MountParser.parseVolumesFrom("c1:ro"));
    assertFalse(MountParser.readWrite("ro"));
    assertTrue(MountParser.readWrite("rw,z"));
    assertEquals("invalid mode: rshared", invalid(() -> MountParser.parseVolumesFrom("c1:rshared")));
    assertEquals("invalid mode: nocopy", invalid(() -> MountParser.parseVolumesFrom("c1:nocopy")));
    assertEquals("volumes-from specification cannot be an empty string",
        invalid(() -> MountParser.parseVolumesFrom("")));
  }

  @ParameterizedTest
  @ValueSource(strings = {"ab", "a.b-c_d", "0x", "Volume1"})
  void goodVolumeNamesPass(String name) {
    MountParser.validateName(name);
  }

  @Test
  void badVolumeNamesGetDockerdsMessages() {
    assertEquals("create x: volume name is too short, names should be at least two alphanumeric characters",
        invalid(() -> MountParser.validateName("x")));
    assertEquals("create -ab: \"-ab\" includes invalid characters for a local volume name, only "
        + "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
        invalid(() -> MountParser.validateName("-ab")));
    assertTrue(invalid(() -> MountParser.validateName("a\"b")).startsWith("create a\"b: \"a\\\"b\" includes"));
    assertTrue(invalid(() -> MountParser.validateName("./rel")).contains("includes invalid characters"));
  }
}
