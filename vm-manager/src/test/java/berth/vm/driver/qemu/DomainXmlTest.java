package berth.vm.driver.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import javax.xml.xpath.XPath;
import javax.xml.xpath.XPathConstants;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.NodeList;

class DomainXmlTest {
  private static final String KEY = "ecdsa-sha2-nistp256 AAAAE2VjZHNh test@host";
  private static final Path DIR = Path.of("/home/u/.berth/machines/dev & co");

  private static DomainSpec spec(String type, List<DomainSpec.Share> shares) {
    return spec(type, shares, DomainSpec.ShareType.VIRTIOFS, Optional.of("+1000:+1000"));
  }

  private static DomainSpec spec(String type, List<DomainSpec.Share> shares, DomainSpec.ShareType shareType,
      Optional<String> owner) {
    String cmdline = DomainSpec.cmdline("x86_64", KEY + "\n", "/dev/vda", shareType, shares, List.of("berth.debug"));
    return new DomainSpec("berth-dev", "dev", DIR, type, "x86_64", 2, 1536, Path.of("/img/vmlinux"),
        Path.of("/img/initrd.img"), Path.of("/img/opt.sqfs"), cmdline, DIR.resolve("data.qcow2"), DIR.resolve("console.log"), shares, 40222,
        shareType, Optional.of(Path.of("/usr/lib/qemu/virtiofsd")), owner,
        Optional.of("1e3029b0-eeff-4183-8ee9-cd3f409c5ee0"));
  }

  private static String x(Document d, String path) throws Exception {
    XPath xp = XPathFactory.newInstance().newXPath();
    return (String) xp.evaluate(path, d, XPathConstants.STRING);
  }

  private static int count(Document d, String path) throws Exception {
    XPath xp = XPathFactory.newInstance().newXPath();
    return ((NodeList) xp.evaluate(path, d, XPathConstants.NODESET)).getLength();
  }

  @Test
  void aTcgDomainBootsTheKernelDirectlyWithTheDiskConsoleAndSshForward() throws Exception {
    String xml = DomainXml.build(spec("qemu", List.of()));
    Document d = DomainXml.parse(xml);
    assertEquals("qemu", x(d, "/domain/@type"));
    assertEquals("berth-dev", x(d, "/domain/name"));
    assertEquals("1e3029b0-eeff-4183-8ee9-cd3f409c5ee0", x(d, "/domain/uuid"));
    assertEquals("1536", x(d, "/domain/memory"));
    assertEquals("MiB", x(d, "/domain/memory/@unit"));
    assertEquals("2", x(d, "/domain/vcpu"));
    assertEquals("hvm", x(d, "/domain/os/type"));
    assertEquals("q35", x(d, "/domain/os/type/@machine"));
    // every device on the root bus at a fixed slot, the NIC's (0x10) included, none behind a root port
    for (String dev : List.of("disk[1]", "disk[2]", "rng")) {
      assertEquals("pci", x(d, "/domain/devices/" + dev + "/address/@type"), dev);
      assertEquals("0x00", x(d, "/domain/devices/" + dev + "/address/@bus"), dev);
    }
    assertEquals(List.of("0x04", "0x05", "0x06"), List.of(x(d, "/domain/devices/disk[1]/address/@slot"),
        x(d, "/domain/devices/disk[2]/address/@slot"), x(d, "/domain/devices/rng/address/@slot")));
    assertEquals("/img/vmlinux", x(d, "/domain/os/kernel"));
    assertEquals("/img/initrd.img", x(d, "/domain/os/initrd"));
    assertEquals(1, count(d, "/domain/features/acpi"));
    assertEquals(0, count(d, "/domain/cpu"));
    for (String on : List.of("on_poweroff", "on_reboot", "on_crash")) {
      assertEquals("destroy", x(d, "/domain/" + on));
    }
    assertEquals(2, count(d, "/domain/devices/disk"));
    assertEquals("qcow2", x(d, "/domain/devices/disk[1]/driver/@type"));
    assertEquals(DIR.resolve("data.qcow2").toString(), x(d, "/domain/devices/disk[1]/source/@file"));
    assertEquals("vda", x(d, "/domain/devices/disk[1]/target/@dev"));
    assertEquals("virtio", x(d, "/domain/devices/disk[1]/target/@bus"));
    assertEquals("berth-data", x(d, "/domain/devices/disk[1]/serial"));
    assertEquals("virtio", x(d, "/domain/devices/rng/@model"));
    assertEquals("/dev/urandom", x(d, "/domain/devices/rng/backend"));
    // the boot image's /opt/berth: second, raw, read-only, found by its serial
    assertEquals("raw", x(d, "/domain/devices/disk[2]/driver/@type"));
    assertEquals("/img/opt.sqfs", x(d, "/domain/devices/disk[2]/source/@file"));
    assertEquals(1, count(d, "/domain/devices/disk[2]/readonly"));
    assertEquals("berth-opt", x(d, "/domain/devices/disk[2]/serial"));
    assertEquals("pty", x(d, "/domain/devices/serial/@type"));
    assertEquals(DIR.resolve("console.log").toString(), x(d, "/domain/devices/serial/log/@file"));
    assertEquals("none", x(d, "/domain/devices/memballoon/@model"));
    assertEquals(0, count(d, "/domain/devices/filesystem"));
    assertEquals(0, count(d, "/domain/memoryBacking"));
    assertEquals("static", x(d, "/domain/seclabel/@type"));
    assertEquals("no", x(d, "/domain/seclabel/@relabel"));
    assertEquals("+1000:+1000", x(d, "/domain/seclabel/label"));

    List<String> args = new ArrayList<>();
    NodeList qa = d.getElementsByTagNameNS(DomainXml.QEMU_NS, "arg");
    for (int i = 0; i < qa.getLength(); i++) {
      args.add(((org.w3c.dom.Element) qa.item(i)).getAttribute("value"));
    }
    assertEquals(List.of("-netdev", "user,id=berthnet,hostfwd=tcp:127.0.0.1:40222-:22",
        "-device", "virtio-net-pci,netdev=berthnet,addr=0x10"), args);
    // what the driver reads back from a live domain
    assertEquals(OptionalInt.of(40222), DomainXml.sshPort(xml));
    assertEquals(Optional.of(DIR.toString()), DomainXml.machineDir(xml));
  }

  @Test
  void theCommandLineCarriesTheKeyTheDataDiskAndTheShares() throws Exception {
    List<DomainSpec.Share> shares = List.of(new DomainSpec.Share(Path.of("/home/u/src"), "berth0", "/home/u/src"),
        new DomainSpec.Share(Path.of("/srv/data"), "berth1", "/data"));
    Document d = DomainXml.parse(DomainXml.build(spec("qemu", shares)));
    String cmdline = x(d, "/domain/os/cmdline");
    List<String> words = List.of(cmdline.split(" "));
    assertEquals(List.of("console=ttyS0", "panic=-1", "quiet"), words.subList(0, 3));
    String key = words.stream().filter(w -> w.startsWith("berth.key=")).findFirst().orElseThrow();
    assertEquals(KEY, new String(Base64.getDecoder().decode(key.substring("berth.key=".length())),
        StandardCharsets.UTF_8));
    assertTrue(words.contains("berth.data=/dev/vda"), cmdline);
    assertTrue(words.contains("berth.share=berth0:/home/u/src"), cmdline);
    assertTrue(words.contains("berth.share=berth1:/data"), cmdline);
    assertEquals("berth.debug", words.get(words.size() - 1));

    assertEquals(2, count(d, "/domain/devices/filesystem"));
    assertEquals("virtiofs", x(d, "/domain/devices/filesystem[2]/driver/@type"));
    assertEquals("/usr/lib/qemu/virtiofsd", x(d, "/domain/devices/filesystem[2]/binary/@path"));
    assertEquals("/srv/data", x(d, "/domain/devices/filesystem[2]/source/@dir"));
    assertEquals("berth1", x(d, "/domain/devices/filesystem[2]/target/@dir"));
    assertEquals("0x08", x(d, "/domain/devices/filesystem[1]/address/@slot"));
    assertEquals("0x09", x(d, "/domain/devices/filesystem[2]/address/@slot"));
    // virtiofs needs the guest's RAM shared with virtiofsd
    assertEquals("memfd", x(d, "/domain/memoryBacking/source/@type"));
    assertEquals("shared", x(d, "/domain/memoryBacking/access/@mode"));
  }

  @Test
  void sessionSharesAre9pServedByQemuAsTheUserWithoutSharedMemoryOrALabel() throws Exception {
    List<DomainSpec.Share> shares = List.of(new DomainSpec.Share(Path.of("/home/u/src"), "berth0", "/home/u/src"));
    Document d = DomainXml.parse(DomainXml.build(spec("qemu", shares, DomainSpec.ShareType.NINE_P, Optional.empty())));
    List<String> words = List.of(x(d, "/domain/os/cmdline").split(" "));
    assertTrue(words.contains("berth.share9p=berth0:/home/u/src"), words.toString());
    assertTrue(words.stream().noneMatch(w -> w.startsWith("berth.share=")), words.toString());
    assertEquals(1, count(d, "/domain/devices/filesystem"));
    assertEquals("path", x(d, "/domain/devices/filesystem/driver/@type"));
    assertEquals("squash", x(d, "/domain/devices/filesystem/@accessmode"));
    assertEquals("remap", x(d, "/domain/devices/filesystem/@multidevs"));
    assertEquals(0, count(d, "/domain/devices/filesystem/binary"));
    assertEquals("/home/u/src", x(d, "/domain/devices/filesystem/source/@dir"));
    assertEquals("berth0", x(d, "/domain/devices/filesystem/target/@dir"));
    assertEquals("0x08", x(d, "/domain/devices/filesystem/address/@slot"));
    assertEquals(0, count(d, "/domain/memoryBacking"));
    assertEquals(0, count(d, "/domain/seclabel"));
  }

  @Test
  void hardwareAccelerationPassesTheHostCpuThrough() throws Exception {
    for (String type : List.of("kvm", "hvf")) {
      Document d = DomainXml.parse(DomainXml.build(spec(type, List.of())));
      assertEquals(type, x(d, "/domain/@type"));
      assertEquals("host-passthrough", x(d, "/domain/cpu/@mode"));
    }
  }

  @Test
  void aDomainWithoutBerthsMarkIsNotBerths() {
    assertEquals(Optional.empty(), DomainXml.machineDir("<domain type='qemu'><name>berth-dev</name></domain>"));
    assertEquals(Optional.empty(), DomainXml.machineDir("<domain type='qemu'><metadata><x:machine "
        + "xmlns:x='https://example.org/other' dir='/d'/></metadata></domain>"));
    assertEquals(OptionalInt.empty(), DomainXml.sshPort("<domain type='qemu'/>"));
  }
}
