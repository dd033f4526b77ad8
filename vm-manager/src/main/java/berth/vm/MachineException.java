package berth.vm;

import java.util.List;

/** A machine operation that failed for a reason the user can act on; the message says what and how. */
public class MachineException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What kind of failure this is, so callers (the CLI, the desktop app) can map it to an exit code or a dialog. */
  public enum Kind {
    /** The input is wrong: a bad name, too little memory, a share that is not a directory. */
    INVALID,
    /** No such machine. */
    NOT_FOUND,
    /** The name is taken, or a libvirt domain of that name belongs to someone else. */
    CONFLICT,
    /** A service the machine needs is not reachable (libvirtd). */
    UNAVAILABLE,
    /** The machine's files are missing or damaged (boot image, data disk, key). */
    BROKEN
  }

  private final Kind kind;

  public MachineException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public MachineException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  /** One exception listing every problem, one per line after the summary (lima's errors.Join). */
  public static MachineException of(Kind kind, String summary, List<String> problems) {
    return new MachineException(kind, problems.size() == 1 ? summary + ": " + problems.get(0)
        : summary + ":\n  - " + String.join("\n  - ", problems));
  }

  public Kind kind() {
    return kind;
  }
}
