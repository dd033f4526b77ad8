package berth.engine.network.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
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

/** The resolver's own answers, without sockets. */
class AnswersTest {
  private final FakeDirectory dir = new FakeDirectory()
      .name("web", "172.18.0.2")
      .name("db", "172.18.0.3", "172.18.0.4")
      .name("empty")
      .ptr("172.18.0.2", "web.mynet");
  private final Answers answers = new Answers(dir);

  static Message query(String name, int type) throws TextParseException {
    return Message.newQuery(Record.newRecord(Name.fromString(name, Name.root), type, DClass.IN));
  }

  private static List<String> addresses(Message m) {
    return m.getSection(Section.ANSWER).stream()
        .map(r -> ((ARecord) r).getAddress().getHostAddress()).collect(Collectors.toList());
  }

  @Test
  void knownNameGetsItsAddressWithTtl600AndMobysFlags() throws Exception {
    Message q = query("web", Type.A);
    Message r = answers.answer("c1", q);
    assertNotNull(r);
    assertEquals(q.getHeader().getID(), r.getHeader().getID());
    assertEquals(Rcode.NOERROR, r.getRcode());
    assertTrue(r.getHeader().getFlag(Flags.QR));
    assertTrue(r.getHeader().getFlag(Flags.RA), "recursion available, as moby");
    assertTrue(r.getHeader().getFlag(Flags.RD), "RD copied from the query");
    assertFalse(r.getHeader().getFlag(Flags.AA), "moby never claims authority");
    assertEquals(q.getQuestion(), r.getQuestion());
    List<Record> answer = r.getSection(Section.ANSWER);
    assertEquals(1, answer.size());
    assertEquals(600, answer.get(0).getTTL());
    assertEquals(Name.fromString("web."), answer.get(0).getName());
    assertEquals(List.of("172.18.0.2"), addresses(r));
    assertTrue(dir.asked.contains("c1 web"), "asked with the container and the bare name: " + dir.asked);
  }

  @Test
  void namesAreLookedUpInLowerCaseWithoutTheDotAndAnsweredAsAsked() throws Exception {
    Message r = answers.answer("c1", query("WeB.", Type.A));
    assertEquals(List.of("172.18.0.2"), addresses(r));
    assertEquals("WeB.", r.getSection(Section.ANSWER).get(0).getName().toString());
  }

  @Test
  void severalAddressesAreAllAnsweredInRotatingOrder() throws Exception {
    Set<String> firsts = new HashSet<>();
    for (int i = 0; i < 4; i++) {
      List<String> got = addresses(answers.answer("c1", query("db", Type.A)));
      assertEquals(Set.of("172.18.0.3", "172.18.0.4"), Set.copyOf(got));
      assertEquals(2, got.size());
      firsts.add(got.get(0));
    }
    assertEquals(2, firsts.size(), "round-robin puts each address first in turn");
  }

  @Test
  void knownNameWithoutIpv4GetsAnEmptyNoerror() throws Exception {
    Message r = answers.answer("c1", query("empty", Type.A));
    assertEquals(Rcode.NOERROR, r.getRcode());
    assertTrue(r.getSection(Section.ANSWER).isEmpty());
  }

  @Test
  void aaaaAndMxOfKnownNamesAreEmptyNoerrorAndOfUnknownNamesForwarded() throws Exception {
    for (int type : new int[] {Type.AAAA, Type.MX}) {
      Message r = answers.answer("c1", query("web", type));
      assertEquals(Rcode.NOERROR, r.getRcode());
      assertTrue(r.getSection(Section.ANSWER).isEmpty());
      assertTrue(r.getHeader().getFlag(Flags.RA));
      assertNull(answers.answer("c1", query("example.com", type)));
    }
  }

  @Test
  void unknownNamesAndOtherTypesAreForwarded() throws Exception {
    assertNull(answers.answer("c1", query("example.com", Type.A)));
    assertNull(answers.answer("c1", query("web", Type.TXT)));
    assertNull(answers.answer("c1", query("web", Type.SRV)));
    Message chaos = Message.newQuery(Record.newRecord(Name.fromString("web."), Type.A, DClass.CH));
    assertNull(answers.answer("c1", chaos));
  }

  @Test
  void ptrOfAKnownAddressNamesIt() throws Exception {
    Message q = query("2.0.18.172.in-addr.arpa", Type.PTR);
    Message r = answers.answer("c1", q);
    assertEquals(Rcode.NOERROR, r.getRcode());
    PTRRecord ptr = (PTRRecord) r.getSection(Section.ANSWER).get(0);
    assertEquals(Name.fromString("web.mynet."), ptr.getTarget());
    assertEquals(q.getQuestion().getName(), ptr.getName());
    assertEquals(600, ptr.getTTL());
    assertTrue(dir.asked.contains("c1 ptr 172.18.0.2"));
  }

  @Test
  void ptrOfUnknownOrOddNamesIsForwarded() throws Exception {
    assertNull(answers.answer("c1", query("9.9.9.9.in-addr.arpa", Type.PTR)));
    assertNull(answers.answer("c1", query("0.18.172.in-addr.arpa", Type.PTR)));
    assertNull(answers.answer("c1", query("1.0.0.0.18.172.in-addr.arpa", Type.PTR)));
    assertNull(answers.answer("c1", query(
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", Type.PTR)));
    assertNull(answers.answer("c1", query("web", Type.PTR)));
  }

  @Test
  void reverseAddressIsStrict() throws Exception {
    assertEquals(FakeDirectory.v4("10.1.2.3"), Answers.reverseAddress(Name.fromString("3.2.1.10.in-addr.arpa.")));
    assertEquals(FakeDirectory.v4("10.1.2.3"), Answers.reverseAddress(Name.fromString("3.2.1.10.IN-ADDR.ARPA.")));
    assertNull(Answers.reverseAddress(Name.fromString("03.2.1.10.in-addr.arpa.")));
    assertNull(Answers.reverseAddress(Name.fromString("256.2.1.10.in-addr.arpa.")));
    assertNull(Answers.reverseAddress(Name.fromString("x.2.1.10.in-addr.arpa.")));
    assertNull(Answers.reverseAddress(Name.fromString("2.1.10.in-addr.arpa.")));
  }

  @Test
  void aFailingDirectoryGivesServfail() throws Exception {
    Message q = query("boom", Type.A);
    Message r = answers.answer("c1", q);
    assertEquals(Rcode.SERVFAIL, r.getRcode());
    assertEquals(q.getHeader().getID(), r.getHeader().getID());
    assertFalse(r.getHeader().getFlag(Flags.RA), "moby's SERVFAIL (SetRcode) has no RA");
  }

  @Test
  void otherOpcodesGetNotimpAndQuestionCountsOtherThanOneFormerr() throws Exception {
    Message notify = query("web", Type.A);
    notify.getHeader().setOpcode(Opcode.UPDATE);
    assertEquals(Rcode.NOTIMP, answers.answer("c1", notify).getRcode());
    Message none = new Message();
    assertEquals(Rcode.FORMERR, answers.answer("c1", none).getRcode());
    Message two = query("web", Type.A);
    two.addRecord(Record.newRecord(Name.fromString("db."), Type.A, DClass.IN), Section.QUESTION);
    Message r = answers.answer("c1", two);
    assertEquals(Rcode.FORMERR, r.getRcode());
    assertEquals(two.getHeader().getID(), r.getHeader().getID());
  }

  @Test
  void parseDropsGarbageShortPacketsAndResponses() throws Exception {
    assertNull(Answers.parse(new byte[0]));
    assertNull(Answers.parse(new byte[] {1, 2, 3}));
    assertNull(Answers.parse(new byte[] {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'x'}));
    Message q = query("web", Type.A);
    Message parsed = Answers.parse(q.toWire());
    assertNotNull(parsed);
    assertEquals(q.getQuestion(), parsed.getQuestion());
    Message resp = answers.answer("c1", q);
    assertNull(Answers.parse(resp.toWire()), "a response is never answered");
  }

  @Test
  void udpAnswersAreTruncatedTo512OrTheEdnsSizeAndTcpAnswersAreNot() throws Exception {
    String[] many = new String[60];
    for (int i = 0; i < many.length; i++) {
      many[i] = "10.0.0." + (i + 1);
    }
    dir.name("big", many);
    Message q = query("big", Type.A);
    Message r = answers.answer("c1", q);
    byte[] udp = Answers.encode(r, q, false);
    assertTrue(udp.length <= 512);
    assertTrue(new Message(udp).getHeader().getFlag(Flags.TC));
    byte[] tcp = Answers.encode(r, q, true);
    Message full = new Message(tcp);
    assertFalse(full.getHeader().getFlag(Flags.TC));
    assertEquals(60, full.getSection(Section.ANSWER).size());
    Message edns = query("big", Type.A);
    edns.addRecord(new OPTRecord(4096, 0, 0), Section.ADDITIONAL);
    byte[] big = Answers.encode(answers.answer("c1", edns), edns, false);
    assertFalse(new Message(big).getHeader().getFlag(Flags.TC));
  }
}
