package berth.engine.logs;

import java.util.Arrays;

/**
 * Decodes one json-file line ({@code {"log":"…","stream":"stdout","time":"<RFC 3339 nano>"}}, other keys such as
 * {@code attrs} are skipped) straight from bytes. Not thread-safe; one per reader.
 */
final class JsonLineParser {
  private static final byte[] K_LOG = {'l', 'o', 'g'};
  private static final byte[] K_STREAM = {'s', 't', 'r', 'e', 'a', 'm'};
  private static final byte[] K_TIME = {'t', 'i', 'm', 'e'};

  private byte[] b;
  private int i;
  private int end;
  private byte[] scratch = new byte[256];

  // results of the last successful parse
  byte[] log;
  String stream;
  long timeNanos;

  // cache of the last "YYYY-MM-DDTHH:MM:SS" prefix -> epoch second
  private final byte[] cachedPrefix = new byte[19];
  private long cachedSecond = Long.MIN_VALUE;

  /** Parses {@code buf[from, to)}; returns false (and leaves results undefined) if the line is malformed. */
  boolean parse(byte[] buf, int from, int to) {
    b = buf;
    i = from;
    end = to;
    log = null;
    stream = null;
    timeNanos = 0;
    try {
      ws();
      if (!eat('{')) return false;
      ws();
      if (i < end && b[i] == '}') return false;
      while (true) {
        ws();
        if (!eat('"')) return false;
        int ks = i;
        int ke = skipStringBody();
        if (ke < 0) return false;
        ws();
        if (!eat(':')) return false;
        ws();
        if (keyIs(ks, ke, K_LOG)) {
          if (!eat('"')) return false;
          log = string();
          if (log == null) return false;
        } else if (keyIs(ks, ke, K_STREAM)) {
          if (!eat('"')) return false;
          byte[] s = string();
          if (s == null) return false;
          stream = streamName(s);
        } else if (keyIs(ks, ke, K_TIME)) {
          if (!eat('"')) return false;
          int ts = i;
          int te = skipStringBody();
          if (te < 0) return false;
          long t = parseTime(b, ts, te);
          if (t == Long.MIN_VALUE) return false;
          timeNanos = t;
        } else if (!skipValue(0)) {
          return false;
        }
        ws();
        if (i >= end) return false;
        byte c = b[i++];
        if (c == '}') break;
        if (c != ',') return false;
      }
      ws();
      return i == end && log != null;
    } catch (ArrayIndexOutOfBoundsException e) {
      return false;
    }
  }

  private static String streamName(byte[] s) {
    if (Arrays.equals(s, K_STDOUT)) return LogEntry.STDOUT;
    if (Arrays.equals(s, K_STDERR)) return LogEntry.STDERR;
    return new String(s, java.nio.charset.StandardCharsets.UTF_8);
  }

  private static final byte[] K_STDOUT = {'s', 't', 'd', 'o', 'u', 't'};
  private static final byte[] K_STDERR = {'s', 't', 'd', 'e', 'r', 'r'};

  private boolean keyIs(int s, int e, byte[] k) {
    return Arrays.equals(b, s, e, k, 0, k.length);
  }

  private void ws() {
    while (i < end) {
      byte c = b[i];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') i++;
      else break;
    }
  }

  private boolean eat(char c) {
    if (i < end && b[i] == c) {
      i++;
      return true;
    }
    return false;
  }

  /** With i just after the opening quote: moves past the closing quote, returns the index of the closing quote. */
  private int skipStringBody() {
    while (i < end) {
      byte c = b[i];
      if (c == '"') return i++;
      if (c == '\\') i += 2;
      else i++;
    }
    return -1;
  }

  /** With i just after the opening quote: decodes the string, moves past the closing quote. */
  private byte[] string() {
    int s = i;
    while (i < end) {
      byte c = b[i];
      if (c == '"') {
        i++;
        return Arrays.copyOfRange(b, s, i - 1);
      }
      if (c == '\\') break;
      i++;
    }
    // slow path with escapes
    int n = i - s;
    ensure(n + 16);
    System.arraycopy(b, s, scratch, 0, n);
    while (i < end) {
      byte c = b[i++];
      if (c == '"') return Arrays.copyOf(scratch, n);
      ensure(n + 4);
      if (c != '\\') {
        scratch[n++] = c;
        continue;
      }
      if (i >= end) return null;
      byte e = b[i++];
      switch (e) {
        case '"', '\\', '/' -> scratch[n++] = e;
        case 'n' -> scratch[n++] = '\n';
        case 't' -> scratch[n++] = '\t';
        case 'r' -> scratch[n++] = '\r';
        case 'b' -> scratch[n++] = '\b';
        case 'f' -> scratch[n++] = '\f';
        case 'u' -> {
          int cp = hex4();
          if (cp < 0) return null;
          if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= end && b[i] == '\\' && b[i + 1] == 'u') {
            int save = i;
            i += 2;
            int lo = hex4();
            if (lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else i = save;
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; // lone surrogate
          n = utf8(cp, n);
        }
        default -> {
          return null;
        }
      }
    }
    return null;
  }

  private int hex4() {
    if (i + 4 > end) return -1;
    int v = 0;
    for (int k = 0; k < 4; k++) {
      int d = Character.digit(b[i++], 16);
      if (d < 0) return -1;
      v = (v << 4) | d;
    }
    return v;
  }

  private int utf8(int cp, int n) {
    if (cp < 0x80) {
      scratch[n++] = (byte) cp;
    } else if (cp < 0x800) {
      scratch[n++] = (byte) (0xC0 | (cp >> 6));
      scratch[n++] = (byte) (0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      scratch[n++] = (byte) (0xE0 | (cp >> 12));
      scratch[n++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
      scratch[n++] = (byte) (0x80 | (cp & 0x3F));
    } else {
      scratch[n++] = (byte) (0xF0 | (cp >> 18));
      scratch[n++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
      scratch[n++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
      scratch[n++] = (byte) (0x80 | (cp & 0x3F));
    }
    return n;
  }

  private void ensure(int cap) {
    if (scratch.length < cap) scratch = Arrays.copyOf(scratch, Math.max(cap, scratch.length * 2));
  }

  private boolean skipValue(int depth) {
    if (depth > 64 || i >= end) return false;
    byte c = b[i];
    if (c == '"') {
      i++;
      return skipStringBody() >= 0;
    }
    if (c == '{' || c == '[') {
      byte close = c == '{' ? (byte) '}' : (byte) ']';
      i++;
      ws();
      if (i < end && b[i] == close) {
        i++;
        return true;
      }
      while (true) {
        ws();
        if (c == '{') {
          if (!eat('"') || skipStringBody() < 0) return false;
          ws();
          if (!eat(':')) return false;
          ws();
        }
        if (!skipValue(depth + 1)) return false;
        ws();
        if (i >= end) return false;
        byte d = b[i++];
        if (d == close) return true;
        if (d != ',') return false;
      }
    }
    int s = i;
    while (i < end) {
      byte d = b[i];
      if (d == ',' || d == '}' || d == ']' || d == ' ' || d == '\t' || d == '\r' || d == '\n') break;
      i++;
    }
    return i > s;
  }

  /** RFC 3339 with optional fraction and Z or ±hh:mm offset; Long.MIN_VALUE if malformed. */
  long parseTime(byte[] t, int s, int e) {
    if (e - s < 20 || t[s + 4] != '-' || t[s + 7] != '-' || (t[s + 10] != 'T' && t[s + 10] != 't')
        || t[s + 13] != ':' || t[s + 16] != ':') {
      return Long.MIN_VALUE;
    }
    long sec;
    if (cachedSecond != Long.MIN_VALUE && Arrays.equals(t, s, s + 19, cachedPrefix, 0, 19)) {
      sec = cachedSecond;
    } else {
      int y = num(t, s, 4), mo = num(t, s + 5, 2), d = num(t, s + 8, 2);
      int h = num(t, s + 11, 2), mi = num(t, s + 14, 2), se = num(t, s + 17, 2);
      if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60) {
        return Long.MIN_VALUE;
      }
      sec = daysFromCivil(y, mo, d) * 86400L + h * 3600L + mi * 60L + se;
      System.arraycopy(t, s, cachedPrefix, 0, 19);
      cachedSecond = sec;
    }
    int p = s + 19;
    long nanos = 0;
    if (t[p] == '.') {
      p++;
      int digits = 0;
      while (p < e && t[p] >= '0' && t[p] <= '9') {
        if (digits < 9) {
          nanos = nanos * 10 + (t[p] - '0');
          digits++;
        }
        p++;
      }
      if (digits == 0) return Long.MIN_VALUE;
      for (int k = digits; k < 9; k++) nanos *= 10;
    }
    if (p >= e) return Long.MIN_VALUE;
    if (t[p] == 'Z' || t[p] == 'z') {
      if (p + 1 != e) return Long.MIN_VALUE;
    } else if ((t[p] == '+' || t[p] == '-') && p + 6 == e && t[p + 3] == ':') {
      int oh = num(t, p + 1, 2), om = num(t, p + 4, 2);
      if (oh < 0 || om < 0) return Long.MIN_VALUE;
      long off = oh * 3600L + om * 60L;
      sec -= t[p] == '+' ? off : -off;
    } else {
      return Long.MIN_VALUE;
    }
    return sec * 1_000_000_000L + nanos;
  }

  private static int num(byte[] t, int s, int n) {
    int v = 0;
    for (int k = 0; k < n; k++) {
      int c = t[s + k] - '0';
      if (c < 0 || c > 9) return -1;
      v = v * 10 + c;
    }
    return v;
  }

  /** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
  static long daysFromCivil(long y, int m, int d) {
    y -= m <= 2 ? 1 : 0;
    long era = Math.floorDiv(y, 400);
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
  }
}
