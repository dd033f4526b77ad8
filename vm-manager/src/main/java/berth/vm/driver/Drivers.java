package berth.vm.driver;

import berth.vm.MachineException;
import berth.vm.driver.qemu.LibvirtDriver;
import java.nio.file.Path;
import java.util.List;

/** The drivers Berth knows, wired explicitly (no registration side effects). */
public final class Drivers {
  private Drivers() {}

  /** Every driver, usable on this host or not; {@code bootImage} is the guest's boot files' directory. */
  public static List<MachineDriver> all(Path bootImage) {
    return List.of(new LibvirtDriver(bootImage));
  }

  /** The drivers this host can run. */
  public static List<MachineDriver> forThisHost(Path bootImage) {
    return all(bootImage).stream().filter(d -> d.unsupportedReason().isEmpty()).toList();
  }

  /** The driver of that name; INVALID if unknown or not usable here, with the reason. */
  public static MachineDriver named(String name, Path bootImage) {
    for (MachineDriver d : all(bootImage)) {
      if (d.name().equals(name)) {
        d.unsupportedReason().ifPresent(r -> {
          throw new MachineException(MachineException.Kind.INVALID, "driver \"" + name + "\" cannot run here: " + r);
        });
        return d;
      }
    }
    throw new MachineException(MachineException.Kind.INVALID, "no driver named \"" + name + "\" (known: "
        + String.join(", ", all(bootImage).stream().map(MachineDriver::name).toList()) + ")");
  }
}
