package berth.vm;

/** A named machine: its directory and its (filled, validated) configuration. Immutable. */
public record Machine(String name, MachineDir dir, MachineConfig config) {}
