package berth.engine.content;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import berth.engine.errdefs.EngineException;
import berth.engine.errdefs.ErrorKind;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalContentStoreTest {
  @TempDir Path root;
  private LocalContentStore store;

  private static final byte[] DATA = "hello, berth".getBytes(StandardCharsets.UTF_8);

  @BeforeEach
  void open() throws IOException {
    store = new LocalContentStore(root);
  }

  @Test
  void commitPublishesReadOnlyBlobUnderItsDigest() throws IOException {
    Digest d;
    try (ContentWriter w = store.writer()) {
      w.stream().write(DATA, 0, 5);
      w.stream().write(DATA, 5, DATA.length - 5);
      assertEquals(DATA.length, w.written());
      assertEquals(Digest.of(DATA), w.digest());
      d = w.commit(DATA.length, Digest.of(DATA));
    }
    assertEquals(Digest.of(DATA), d);
    assertTrue(store.exists(d));
    assertEquals(DATA.length, store.size(d));
    assertEquals(root.resolve("blobs/sha256/" + d.hex()), store.path(d));
    try (InputStream in = store.open(d)) {
      assertArrayEquals(DATA, in.readAllBytes());
    }
    assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.GROUP_READ,
        PosixFilePermission.OTHERS_READ), Files.getPosixFilePermissions(store.path(d)));
    assertEquals(List.of(d), store.list());
    assertIngestEmpty();
  }

  @Test
  void digestMismatchPublishesNothing() throws IOException {
    ContentWriter w = store.writer();
    w.stream().write(DATA);
    Digest wrong = Digest.of(new byte[] {1});
    EngineException e = assertThrows(EngineException.class, () -> w.commit(-1, wrong));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertTrue(e.getMessage().startsWith("digest mismatch"), e.getMessage());
    assertFalse(store.exists(Digest.of(DATA)));
    assertEquals(List.of(), store.list());
    assertIngestEmpty();
  }

  @Test
  void sizeMismatchPublishesNothing() throws IOException {
    ContentWriter w = store.writer();
    w.stream().write(DATA);
    EngineException e = assertThrows(EngineException.class, () -> w.commit(DATA.length + 1, null));
    assertEquals(ErrorKind.INVALID_PARAMETER, e.kind());
    assertTrue(e.getMessage().startsWith("size mismatch"), e.getMessage());
    assertEquals(List.of(), store.list());
    assertIngestEmpty();
  }

  @Test
  void committingExistingContentIsIdempotent() throws IOException {
    Digest first = store.put(DATA);
    try (ContentWriter w = store.writer()) {
      w.stream().write(DATA);
      assertEquals(first, w.commit(-1, null));
    }
    assertEquals(first, store.put(DATA));
    assertEquals(List.of(first), store.list());
    try (InputStream in = store.open(first)) {
      assertArrayEquals(DATA, in.readAllBytes());
    }
    assertIngestEmpty();
  }

  @Test
  void closeWithoutCommitAbandonsIngest() throws IOException {
    ContentWriter w = store.writer();
    w.stream().write(DATA);
    try (Stream<Path> s = Files.list(root.resolve("ingest"))) {
      assertEquals(1, s.count());
    }
    w.close();
    w.close();
    assertIngestEmpty();
    assertEquals(List.of(), store.list());
    assertThrows(IOException.class, () -> w.stream().write(1));
  }

  @Test
  void largeBlobStreamsThrough() throws IOException {
    byte[] big = new byte[3 * 1024 * 1024 + 17];
    new java.util.Random(1).nextBytes(big);
    try (ContentWriter w = store.writer()) {
      for (int off = 0; off < big.length; off += 1000) {
        w.stream().write(big, off, Math.min(1000, big.length - off));
      }
      assertEquals(Digest.of(big), w.commit(big.length, Digest.of(big)));
    }
    assertArrayEquals(big, Files.readAllBytes(store.path(Digest.of(big))));
  }

  @Test
  void missingBlobIsNotFound() {
    Digest d = Digest.of(DATA);
    assertFalse(store.exists(d));
    assertEquals(ErrorKind.NOT_FOUND, assertThrows(EngineException.class, () -> store.size(d)).kind());
    assertEquals(ErrorKind.NOT_FOUND, assertThrows(EngineException.class, () -> store.open(d)).kind());
  }

  @Test
  void deleteRemovesAndToleratesAbsence() throws IOException {
    Digest d = store.put(DATA);
    store.delete(d);
    assertFalse(store.exists(d));
    store.delete(d);
    assertEquals(List.of(), store.list());
  }

  @Test
  void reopeningRemovesStaleIngests() throws IOException {
    ContentWriter w = store.writer();
    w.stream().write(DATA);
    // simulate a crash: the writer is never closed
    new LocalContentStore(root);
    assertIngestEmpty();
    assertEquals(List.of(), store.list());
  }

  private void assertIngestEmpty() throws IOException {
    try (Stream<Path> s = Files.list(root.resolve("ingest"))) {
      assertEquals(List.of(), s.toList());
    }
  }
}
