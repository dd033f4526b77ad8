package berth.vm.driver.qemu;

import java.io.ByteArrayInputStream;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * A machine's libvirt domain XML, built from a {@link DomainSpec} (pure; unit-tested by parsing it back), and
 * the two facts read back from a live domain's XML: whose machine it is and its SSH port.
 *
 * <p>Choices, with the measurements behind them in shared/notes/guest-boot.md §5:
 * <ul>
 *   <li>direct kernel boot; {@code <acpi/>} because without it libvirt passes -no-acpi and the guest's
 *       poweroff only halts, and the ACPI power button is how {@code stop} asks the guest to shut down;
 *   <li>on_poweroff/on_reboot/on_crash destroy: a guest that powers off, reboots or panics ends the VM;
 *   <li>networking through {@code <qemu:commandline>}: libvirt 9.0's user interface has no hostfwd, and the
 *       device needs an explicit PCI address or QEMU refuses the slot libvirt already gave away;
 *   <li>the serial console is a pty whose output libvirt (virtlogd) copies to the console log: unlike a
 *       plain file chardev, a pty keeps the guest's stdin open (a console shell on ttyS0 does not read EOF)
 *       and leaves room for an interactive console later;
 *   <li>under qemu:///system, QEMU runs as the machine directory's owner with no relabelling (static DAC
 *       label): libvirt then neither chowns the user's disk, kernel and shares to libvirt-qemu nor needs them
 *       world-readable (under qemu:///session QEMU is the user's own process anyway);
 *   <li>virtiofs needs shared guest memory (memfd), so that is set only when there are virtiofs shares;
 *   <li>9p shares (qemu:///session) are in "squash" access mode, QEMU's security_model=none: files the guest
 *       makes belong to the host user (the ownership asked for at creation is dropped), while an explicit chown
 *       the user could not do fails with EPERM; multidevs=remap keeps inode numbers unique when a shared
 *       directory holds other file systems' mounts;
 *   <li>no memory balloon, no USB controller: nothing in the guest uses them;
 *   <li>x86's q35 machine with every device an integrated endpoint on its root bus (fixed slots, no root
 *       ports): on the older i440fx ("pc") machine, the kernel spent 0.16 s under TCG enabling each of the
 *       three ACPI PCI interrupt links the virtio devices share, and the disks appeared 0.6-0.85 s after
 *       {@code modprobe virtio_pci} against 0.14-0.19 s on q35 (three boots each, same kernel and devices).
 * </ul>
 */
final class DomainXml {
  private DomainXml() {}

  static final String QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0";
  /** The metadata namespace that marks a domain as Berth's and names its machine directory. */
  static final String BERTH_NS = "https://berth.dev/xmlns/libvirt/machine/1";
  static final String NETDEV_ID = "berthnet";
  /** The serial of the /opt/berth disk, by which the guest's init finds it (guest-agent/image/init.sh). */
  static final String OPT_SERIAL = "berth-opt";
  /** The data disk's serial: init takes the disk that has it for the data disk, whatever its name. */
  static final String DATA_SERIAL = "berth-data";
  /** The NIC's PCI slot, well clear of the ones libvirt assigns in order (notes §5). */
  static final int NIC_SLOT = 0x10;
  /** The root-bus slots of the data disk, the /opt/berth disk, the RNG and the first share (q35). */
  static final int DATA_SLOT = 0x04, OPT_SLOT = 0x05, RNG_SLOT = 0x06, FIRST_SHARE_SLOT = 0x08;
  private static final Pattern HOSTFWD = Pattern.compile("hostfwd=tcp:127\\.0\\.0\\.1:(\\d+)-:22\\b");

  static String build(DomainSpec s) {
    Document d = newBuilder().newDocument();
    Element dom = d.createElement("domain");
    d.appendChild(dom);
    dom.setAttribute("type", s.type());
    dom.setAttributeNS(XMLConstants.XMLNS_ATTRIBUTE_NS_URI, "xmlns:qemu", QEMU_NS);
    text(dom, "name", s.domainName());
    s.uuid().ifPresent(u -> text(dom, "uuid", u));
    Element meta = child(dom, "metadata");
    Element mark = d.createElementNS(BERTH_NS, "berth:machine");
    mark.setAttribute("name", s.machineName());
    mark.setAttribute("dir", s.machineDir().toString());
    meta.appendChild(mark);
    text(dom, "memory", Long.toString(s.memoryMib())).setAttribute("unit", "MiB");
    text(dom, "vcpu", Integer.toString(s.cpus()));
    if (!s.shares().isEmpty() && s.shareType() == DomainSpec.ShareType.VIRTIOFS) {
      Element mb = child(dom, "memoryBacking");
      child(mb, "source").setAttribute("type", "memfd");
      child(mb, "access").setAttribute("mode", "shared");
    }
    Element os = child(dom, "os");
    Element type = text(os, "type", "hvm");
    type.setAttribute("arch", s.arch());
    boolean q35 = !"aarch64".equals(s.arch());
    type.setAttribute("machine", q35 ? "q35" : "virt");
    text(os, "kernel", s.kernel().toString());
    text(os, "initrd", s.initrd().toString());
    text(os, "cmdline", s.cmdline());
    child(child(dom, "features"), "acpi");
    if (!"qemu".equals(s.type())) {
      // with hardware acceleration the guest sees the host's CPU; under TCG QEMU's default model is cheapest
      child(dom, "cpu").setAttribute("mode", "host-passthrough");
    }
    child(dom, "clock").setAttribute("offset", "utc");
    text(dom, "on_poweroff", "destroy");
    text(dom, "on_reboot", "destroy");
    text(dom, "on_crash", "destroy");

    Element dev = child(dom, "devices");
    Element disk = child(dev, "disk");
    disk.setAttribute("type", "file");
    disk.setAttribute("device", "disk");
    Element drv = child(disk, "driver");
    drv.setAttribute("name", "qemu");
    drv.setAttribute("type", "qcow2");
    drv.setAttribute("discard", "unmap"); // the guest's fstrim gives space back to the host
    child(disk, "source").setAttribute("file", s.dataDisk().toString());
    Element target = child(disk, "target");
    target.setAttribute("dev", "vda");
    target.setAttribute("bus", "virtio");
    text(disk, "serial", DATA_SERIAL);
    if (q35) {
      rootBusSlot(disk, DATA_SLOT);
    }
    // the boot image's /opt/berth, read-only and shareable by every machine; the guest finds it by its serial
    Element opt = child(dev, "disk");
    opt.setAttribute("type", "file");
    opt.setAttribute("device", "disk");
    Element optDrv = child(opt, "driver");
    optDrv.setAttribute("name", "qemu");
    optDrv.setAttribute("type", "raw");
    child(opt, "source").setAttribute("file", s.optDisk().toString());
    Element optTarget = child(opt, "target");
    optTarget.setAttribute("dev", "vdb");
    optTarget.setAttribute("bus", "virtio");
    child(opt, "readonly");
    child(opt, "shareable");
    text(opt, "serial", OPT_SERIAL);
    if (q35) {
      rootBusSlot(opt, OPT_SLOT);
    }
    int shareSlot = FIRST_SHARE_SLOT;
    for (DomainSpec.Share sh : s.shares()) {
      Element fs = child(dev, "filesystem");
      fs.setAttribute("type", "mount");
      if (s.shareType() == DomainSpec.ShareType.VIRTIOFS) {
        fs.setAttribute("accessmode", "passthrough");
        child(fs, "driver").setAttribute("type", "virtiofs");
        s.virtiofsd().ifPresent(p -> child(fs, "binary").setAttribute("path", p.toString()));
      } else {
        fs.setAttribute("accessmode", "squash");
        fs.setAttribute("multidevs", "remap");
        child(fs, "driver").setAttribute("type", "path");
      }
      child(fs, "source").setAttribute("dir", sh.source().toString());
      child(fs, "target").setAttribute("dir", sh.tag());
      if (q35 && shareSlot < NIC_SLOT) { // slots 0x08-0x0f; more shares than that get the root ports libvirt adds
        rootBusSlot(fs, shareSlot++);
      }
    }
    Element usb = child(dev, "controller");
    usb.setAttribute("type", "usb");
    usb.setAttribute("model", "none");
    Element serial = child(dev, "serial");
    serial.setAttribute("type", "pty");
    Element log = child(serial, "log");
    log.setAttribute("file", s.consoleLog().toString());
    log.setAttribute("append", "on"); // the driver rotates the log itself before each start
    child(serial, "target").setAttribute("port", "0");
    child(dev, "memballoon").setAttribute("model", "none");
    // entropy from the host: without it the guest's CRNG is seeded only ~14 s into a TCG boot, and the agent's
    // JVM (SecureRandom: SSH keys, key exchange) waits for it
    Element rng = child(dev, "rng");
    rng.setAttribute("model", "virtio");
    Element backend = text(rng, "backend", "/dev/urandom");
    backend.setAttribute("model", "random");
    if (q35) {
      rootBusSlot(rng, RNG_SLOT);
    }

    s.owner().ifPresent(owner -> {
      Element sec = child(dom, "seclabel");
      sec.setAttribute("type", "static");
      sec.setAttribute("model", "dac");
      sec.setAttribute("relabel", "no");
      text(sec, "label", owner);
    });

    Element cl = d.createElementNS(QEMU_NS, "qemu:commandline");
    dom.appendChild(cl);
    for (String a : new String[] {"-netdev", "user,id=" + NETDEV_ID + ",hostfwd=tcp:127.0.0.1:" + s.sshPort() + "-:22",
        "-device", "virtio-net-pci,netdev=" + NETDEV_ID + ",addr=" + slot(NIC_SLOT)}) {
      Element arg = d.createElementNS(QEMU_NS, "qemu:arg");
      arg.setAttribute("value", a);
      cl.appendChild(arg);
    }
    return serialize(d);
  }

  /** A PCI slot number as libvirt and QEMU write it: {@code 0x04}. */
  private static String slot(int slot) {
    return String.format("0x%02x", slot);
  }

  /** Puts a device on the PCI Express root bus at {@code slot}, function 0 (an integrated endpoint). */
  private static void rootBusSlot(Element device, int slot) {
    Element a = child(device, "address");
    a.setAttribute("type", "pci");
    a.setAttribute("domain", "0x0000");
    a.setAttribute("bus", "0x00");
    a.setAttribute("slot", slot(slot));
    a.setAttribute("function", "0x0");
  }

  /** The machine directory recorded in a domain's Berth metadata; empty for a domain Berth did not make. */
  static Optional<String> machineDir(String xml) {
    Document d = parse(xml);
    NodeList marks = d.getElementsByTagNameNS(BERTH_NS, "machine");
    if (marks.getLength() == 0) {
      return Optional.empty();
    }
    String dir = ((Element) marks.item(0)).getAttribute("dir");
    return dir.isEmpty() ? Optional.empty() : Optional.of(dir);
  }

  /** The host port forwarded to the guest's SSH port, from a domain's qemu:commandline. */
  static OptionalInt sshPort(String xml) {
    NodeList args = parse(xml).getElementsByTagNameNS(QEMU_NS, "arg");
    for (int i = 0; i < args.getLength(); i++) {
      Matcher m = HOSTFWD.matcher(((Element) args.item(i)).getAttribute("value"));
      if (m.find()) {
        return OptionalInt.of(Integer.parseInt(m.group(1)));
      }
    }
    return OptionalInt.empty();
  }

  static Document parse(String xml) {
    try {
      return newBuilder().parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
    } catch (Exception e) {
      throw new IllegalArgumentException("not a domain XML: " + e.getMessage(), e);
    }
  }

  private static DocumentBuilder newBuilder() {
    try {
      DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
      f.setNamespaceAware(true);
      f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      return f.newDocumentBuilder();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static String serialize(Document d) {
    try {
      Transformer t = TransformerFactory.newInstance().newTransformer();
      t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
      t.setOutputProperty(OutputKeys.INDENT, "yes");
      t.setOutputProperty("{http://xml.apache.org/xslt}indent-amount", "2");
      StringWriter w = new StringWriter();
      t.transform(new DOMSource(d), new StreamResult(w));
      return w.toString();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static Element child(Element parent, String name) {
    Element e = parent.getOwnerDocument().createElement(name);
    parent.appendChild(e);
    return e;
  }

  private static Element text(Element parent, String name, String text) {
    Element e = child(parent, name);
    e.setTextContent(text);
    return e;
  }
}
