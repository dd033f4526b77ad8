package berth.vm.driver.qemu;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.ptr.IntByReference;
import java.lang.reflect.Field;
import org.libvirt.Domain;
import org.libvirt.DomainInfo;
import org.libvirt.LibvirtException;
import org.libvirt.jna.DomainPointer;

/**
 * A domain's state together with libvirt's reason for it ({@code virDomainGetState}), which libvirt-java
 * 0.5.3 does not expose: its {@code getInfo()} says "shut off" but not whether the guest powered off, Berth
 * destroyed it, or its QEMU was killed. We call the C function through JNA on the binding's own domain
 * handle; if that handle cannot be reached (another binding version), the state comes without a reason.
 */
final class DomainStates {
  private DomainStates() {}

  /** libvirt's virDomainState values. */
  enum State { NOSTATE, RUNNING, BLOCKED, PAUSED, SHUTDOWN, SHUTOFF, CRASHED, PMSUSPENDED }

  // virDomainShutoffReason
  static final int SHUTOFF_UNKNOWN = 0;
  static final int SHUTOFF_SHUTDOWN = 1;
  static final int SHUTOFF_DESTROYED = 2;
  static final int SHUTOFF_CRASHED = 3;
  static final int SHUTOFF_FAILED = 6;
  static final int SHUTOFF_DAEMON = 8;

  /** A state and its reason code (-1 when unknown). */
  record StateReason(State state, int reason) {
    boolean active() {
      return state != State.SHUTOFF && state != State.CRASHED && state != State.NOSTATE;
    }

    /** Why a shut-off domain stopped, as a sentence; empty when it was a plain stop. */
    String stoppedReason() {
      if (state == State.CRASHED || reason == SHUTOFF_CRASHED || reason == SHUTOFF_FAILED) {
        return "the VM ended unexpectedly: its QEMU process crashed or was killed (a start boots it again)";
      }
      if (reason == SHUTOFF_DAEMON) {
        return "libvirtd stopped the VM";
      }
      return "";
    }
  }

  private interface GetState extends Library {
    int virDomainGetState(DomainPointer domain, IntByReference state, IntByReference reason, int flags);
  }

  private static final GetState LIB;
  private static final Field HANDLE;

  static {
    GetState lib = null;
    Field handle = null;
    try {
      lib = Native.load("virt", GetState.class);
      handle = Domain.class.getDeclaredField("vdp");
      handle.setAccessible(true);
    } catch (Throwable e) {
      lib = null;
      handle = null;
    }
    LIB = lib;
    HANDLE = handle;
  }

  static StateReason of(Domain d) throws LibvirtException {
    if (LIB != null) {
      try {
        DomainPointer p = (DomainPointer) HANDLE.get(d);
        IntByReference state = new IntByReference();
        IntByReference reason = new IntByReference();
        if (LIB.virDomainGetState(p, state, reason, 0) == 0) {
          State[] all = State.values();
          int s = state.getValue();
          return new StateReason(s >= 0 && s < all.length ? all[s] : State.NOSTATE, reason.getValue());
        }
      } catch (IllegalAccessException | RuntimeException e) {
        // fall through to the binding's own call, which reports libvirt's error properly
      } finally {
        // libvirt-java frees the C handle in Domain's finalizer: d must outlive the call on its raw pointer,
        // or a GC during it frees the handle under libvirt's feet
        java.lang.ref.Reference.reachabilityFence(d);
      }
    }
    DomainInfo.DomainState s = d.getInfo().state;
    return new StateReason(switch (s) {
      case VIR_DOMAIN_RUNNING -> State.RUNNING;
      case VIR_DOMAIN_BLOCKED -> State.BLOCKED;
      case VIR_DOMAIN_PAUSED -> State.PAUSED;
      case VIR_DOMAIN_SHUTDOWN -> State.SHUTDOWN;
      case VIR_DOMAIN_SHUTOFF -> State.SHUTOFF;
      case VIR_DOMAIN_CRASHED -> State.CRASHED;
      default -> State.NOSTATE;
    }, -1);
  }
}
