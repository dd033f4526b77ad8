package berth.engine.network.dns;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Header;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * The resolver's own answers, as moby's libnetwork resolver gives them: A records (TTL 600, several
 * addresses rotated from answer to answer), NOERROR without records for AAAA and MX of known names,
 * PTR for {@code in-addr.arpa} names of known addresses. Replies carry QR and RA, copy ID, opcode, RD
 * and CD, and are not authoritative (moby never sets AA). {@link #answer} returns null for everything
 * the engine does not know: that is forwarded upstream.
 */
final class Answers {
  /** moby's respTTL. */
  static final long TTL = 600;
  /** The UDP size limit without EDNS (RFC 1035). */
  static final int UDP_MIN = 512;
  static final int TCP_MAX = 65535;

  private static final Logger LOG = Logger.getLogger(Answers.class.getName());
  private static final Name IN_ADDR_ARPA = Name.fromConstantString("in-addr.arpa.");

  private final EmbeddedDns.Directory directory;
  private final AtomicInteger rotation = new AtomicInteger();

  Answers(EmbeddedDns.Directory directory) {
    this.directory = directory;
  }

  /**
   * A query from the wire, or null to drop the packet: too short or malformed, or a response (its QR
   * bit set), to which no one must answer.
   */
  static Message parse(byte[] wire) {
    if (wire.length < Header.LENGTH) {
      return null;
    }
    try {
      Message m = new Message(wire);
      return m.getHeader().getFlag(Flags.QR) ? null : m;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /**
   * The response to {@code query} as container {@code containerId} asks it, or null when the query
   * must be forwarded. Opcodes other than QUERY get NOTIMP and messages that do not hold exactly one
   * question FORMERR (the checks of miekg/dns's server that moby's resolver runs behind); a failing
   * directory gets SERVFAIL.
   */
  Message answer(String containerId, Message query) {
    Header h = query.getHeader();
    if (h.getOpcode() != Opcode.QUERY) {
      return failure(query, Rcode.NOTIMP);
    }
    if (query.getSection(Section.QUESTION).size() != 1
        || h.getCount(Section.ANSWER) > 1 || h.getCount(Section.AUTHORITY) > 1
        || h.getCount(Section.ADDITIONAL) > 2) {
      return failure(query, Rcode.FORMERR);
    }
    Record question = query.getQuestion();
    if (question.getDClass() != DClass.IN) {
      return null;
    }
    try {
      switch (question.getType()) {
        case Type.A:
          return addresses(containerId, query, question);
        case Type.AAAA:
        case Type.MX:
          // Known names have no IPv6 address here; MX: "implicit MX" (RFC 5321 5.1) as in moby.
          return directory.lookup(containerId, key(question.getName())) == null ? null : reply(query);
        case Type.PTR:
          return pointer(containerId, query, question);
        default:
          return null;
      }
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "embedded DNS: the engine failed to resolve "
          + question.getName() + " " + Type.string(question.getType()) + " for " + containerId, e);
      return failure(query, Rcode.SERVFAIL);
    }
  }

  private Message addresses(String containerId, Message query, Record question) {
    List<Inet4Address> found = directory.lookup(containerId, key(question.getName()));
    if (found == null) {
      return null;
    }
    List<Inet4Address> addrs = new ArrayList<>(found.size());
    for (Inet4Address a : found) {
      if (a != null) {
        addrs.add(a);
      }
    }
    Message resp = reply(query);
    int n = addrs.size();
    int start = n == 0 ? 0 : Math.floorMod(rotation.getAndIncrement(), n);
    for (int i = 0; i < n; i++) {
      resp.addRecord(new ARecord(question.getName(), DClass.IN, TTL, addrs.get((start + i) % n)),
          Section.ANSWER);
    }
    return resp;
  }

  private Message pointer(String containerId, Message query, Record question) {
    Inet4Address addr = reverseAddress(question.getName());
    if (addr == null) {
      return null; // ip6.arpa or not an address: maybe upstream knows
    }
    String host = directory.reverse(containerId, addr);
    if (host == null || host.isEmpty()) {
      return null;
    }
    Name target;
    try {
      target = Name.fromString(host, Name.root);
    } catch (TextParseException e) {
      LOG.warning("embedded DNS: the engine's name for " + addr.getHostAddress() + " is not a DNS name: " + host);
      return failure(query, Rcode.SERVFAIL);
    }
    Message resp = reply(query);
    resp.addRecord(new PTRRecord(question.getName(), DClass.IN, TTL, target), Section.ANSWER);
    return resp;
  }

  /** The name as the directory wants it: lower case, no trailing dot. */
  static String key(Name name) {
    return name.toString(true).toLowerCase(Locale.ROOT);
  }

  /** The address of {@code d.c.b.a.in-addr.arpa.} (exactly four decimal octets), or null. */
  static Inet4Address reverseAddress(Name name) {
    if (!name.subdomain(IN_ADDR_ARPA) || name.labels() != IN_ADDR_ARPA.labels() + 4) {
      return null;
    }
    byte[] addr = new byte[4];
    for (int i = 0; i < 4; i++) {
      String label = name.getLabelString(i);
      if (label.isEmpty() || label.length() > 3 || (label.length() > 1 && label.charAt(0) == '0')) {
        return null;
      }
      int v = 0;
      for (int j = 0; j < label.length(); j++) {
        char c = label.charAt(j);
        if (c < '0' || c > '9') {
          return null;
        }
        v = v * 10 + (c - '0');
      }
      if (v > 255) {
        return null;
      }
      addr[3 - i] = (byte) v;
    }
    try {
      return (Inet4Address) InetAddress.getByAddress(addr);
    } catch (UnknownHostException e) {
      throw new AssertionError(e); // four bytes are always an address
    }
  }

  /** A NOERROR reply to {@code query} with recursion available, as moby's createRespMsg. */
  static Message reply(Message query) {
    Message resp = failure(query, Rcode.NOERROR);
    resp.getHeader().setFlag(Flags.RA);
    return resp;
  }

  /**
   * A reply with {@code rcode} and nothing but the question, as miekg/dns's SetRcode (which moby uses
   * for SERVFAIL): ID and opcode copied, RD and CD copied for QUERY, no RA.
   */
  static Message failure(Message query, int rcode) {
    Header q = query.getHeader();
    Message resp = new Message(q.getID());
    Header h = resp.getHeader();
    h.setFlag(Flags.QR);
    h.setOpcode(q.getOpcode());
    if (q.getOpcode() == Opcode.QUERY) {
      if (q.getFlag(Flags.RD)) {
        h.setFlag(Flags.RD);
      }
      if (q.getFlag(Flags.CD)) {
        h.setFlag(Flags.CD);
      }
    }
    h.setRcode(rcode);
    Record question = query.getQuestion();
    if (question != null) {
      resp.addRecord(question, Section.QUESTION);
    }
    return resp;
  }

  /**
   * The wire form of a local response, truncated (TC set) to what the client takes: 512 bytes over
   * UDP or the EDNS payload size it advertised if larger, 64 KiB over TCP.
   */
  static byte[] encode(Message response, Message query, boolean tcp) {
    int max = UDP_MIN;
    if (tcp) {
      max = TCP_MAX;
    } else {
      OPTRecord opt = query.getOPT();
      if (opt != null && opt.getPayloadSize() > max) {
        max = Math.min(opt.getPayloadSize(), TCP_MAX);
      }
    }
    return response.toWire(max);
  }
}
