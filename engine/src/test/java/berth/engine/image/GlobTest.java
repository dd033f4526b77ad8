package berth.engine.image;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Go's path.Match semantics, which dockerd's reference filter uses on familiar names. */
class GlobTest {
  @ParameterizedTest(name = "{0} on {1} -> {2}")
  @CsvSource(delimiter = '|', value = {
      "busy*            | busybox                | true",
      "busy*            | busy                   | true",
      "busy*            | busy/box               | false",
      "busy*            | abusybox               | false",
      "bench/*          | bench/x                | true",
      "bench/*          | bench/x/y              | false",
      "bench/*          | bench                  | false",
      "*/*              | me/app                 | true",
      "*                | me/app                 | false",
      "*:latest         | busybox:latest         | true",
      "*:latest         | me/app:latest          | false",
      "*/*:latest       | me/app:latest          | true",
      "localhost:5000/* | localhost:5000/app     | true",
      "b?sybox          | busybox                | true",
      "b?sybox          | bsybox                 | false",
      "a?b              | a/b                    | false",
      "[abc]x           | bx                     | true",
      "[abc]x           | dx                     | false",
      "[a-c]x           | bx                     | true",
      "[a-c]x           | dx                     | false",
      "[^a-c]x          | dx                     | true",
      "[^a-c]x          | ax                     | false",
      "\\*              | *                      | true",
      "\\*              | a                      | false",
      "a.b              | a.b                    | true",
      "a.b              | axb                    | false",
      "a+b              | a+b                    | true",
      "a+b              | aab                    | false",
      "(x)              | (x)                    | true",
      "(x)              | x                      | false",
      "app:1.*          | app:1.36               | true",
      "app:1.*          | app:2.1                | false",
  })
  void matchesAsGoPathMatch(String pattern, String name, boolean expected) {
    assertEquals(expected, Glob.compile(pattern).matcher(name).matches());
  }
}
