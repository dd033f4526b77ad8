package berth.engine.layer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.content.Digest;
import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import berth.engine.testing.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writable layers as overlay mount descriptions; nothing here mounts, so no root is needed. */
class WritableLayerTest {
  @TempDir Path dir;

  private Digest layer(OverlayLayerStore store, String file) throws IOException {
    byte[] tar = new TarBuilder().file(file, file, 0644).tar();
    return store.unpack(new ByteArrayInputStream(tar)).diffId();
  }

  @Test
  void prepareListsTheTopmostLowerDirFirstWithItsOwnUpperAndWorkDirs() throws IOException {
    OverlayLayerStore store = new OverlayLayerStore(dir.resolve("layers"));
    Digest bottom = layer(store, "a");
    Digest top = layer(store, "b");
    MountSpec spec = store.prepare("c1", List.of(bottom, top));
    assertEquals("overlay", spec.type());
    assertEquals(List.of("lowerdir=" + store.diffDir(top) + ":" + store.diffDir(bottom),
        "upperdir=" + store.writableDir("c1"), "workdir=" + store.writableDir("c1").resolveSibling("work")),
        spec.options());
    assertTrue(Files.isDirectory(store.writableDir("c1")));
    assertTrue(Files.isDirectory(store.writableDir("c1").resolveSibling("work")));
    assertEquals(String.join(",", spec.options()), spec.data());
  }

  @Test
  void preparingAgainKeepsWhatTheContainerWrote() throws IOException {
    OverlayLayerStore store = new OverlayLayerStore(dir.resolve("layers"));
    Digest base = layer(store, "a");
    MountSpec first = store.prepare("c1", List.of(base));
    Files.writeString(store.writableDir("c1").resolve("kept"), "x");
    assertEquals(first, store.prepare("c1", List.of(base)));
    assertEquals("x", Files.readString(store.writableDir("c1").resolve("kept")));
  }

  @Test
  void anImageWithoutLayersGetsTheEmptyLowerDir() throws IOException {
    OverlayLayerStore store = new OverlayLayerStore(dir.resolve("layers"));
    MountSpec spec = store.prepare("scratch", List.of());
    Path empty = dir.resolve("layers").resolve("empty");
    assertEquals("lowerdir=" + empty, spec.options().get(0));
    assertTrue(Files.isDirectory(empty));
  }

  @Test
  void anAbsentDiffIsNotFoundAndCreatesNothing() throws IOException {
    OverlayLayerStore store = new OverlayLayerStore(dir.resolve("layers"));
    Digest missing = Digest.of(new byte[] {1});
    EngineException e = assertThrows(EngineException.class, () -> store.prepare("c1", List.of(missing)));
    assertEquals(ErrorKind.NOT_FOUND, e.kind());
    assertEquals(List.of(), store.writableKeys());
  }

  @Test
  void keysThatCouldLeaveTheStoreAreRefused() throws IOException {
    OverlayLayerStore store = new OverlayLayerStore(dir.resolve("layers"));
    for (String bad : new String[] {"../x", ".hidden", "a/b", "", "x".repeat(129)}) {
      EngineException e = assertThrows(EngineException.class, () -> store.prepare(bad, List.of()), bad);
      assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    }
    assertFalse(Files.exists(dir.resolve("layers").resolve("x")));
  }

  @Test
  void tooManyLayersForOneMountIsAClearError() throws IOException {
    // a long store path makes each lower dir long, so 24 layers pass the 4 KiB mount(2) data limit
    OverlayLayerStore store = new OverlayLayerStore(dir.resolve("l".repeat(120)).resolve("layers"));
    List<Digest> diffs = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      diffs.add(layer(store, "f" + i));
    }
    EngineException e = assertThrows(EngineException.class, () -> store.prepare("c1", diffs));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertTrue(e.getMessage().startsWith("too many layers for one overlay mount: 24 layers"), e.getMessage());
    assertEquals(3, store.prepare("c2", diffs.subList(0, 3)).options().get(0).split(":").length);
  }

  @Test
  void removeWritableDeletesItAndIsIdempotent() throws IOException {
    OverlayLayerStore store = new OverlayLayerStore(dir.resolve("layers"));
    store.prepare("c1", List.of());
    store.prepare("c2", List.of());
    Files.writeString(store.writableDir("c1").resolve("f"), "x");
    assertEquals(List.of("c1", "c2"), store.writableKeys());
    store.removeWritable("c1");
    store.removeWritable("c1");
    assertEquals(List.of("c2"), store.writableKeys());
    assertFalse(Files.exists(store.writableDir("c1")));
    assertEquals(List.of(), store.list(), "writable layers are not image layers");
  }
}
