/**
 * Machine drivers: what turns a {@link berth.vm.Machine} into a running VM (lima's driver model).
 *
 * <p>A {@link berth.vm.driver.MachineDriver} owns one mechanism (libvirt/QEMU here; WSL2 and Hyper-V later).
 * Its life cycle for a machine is {@code configure → create → start ⇄ stop → delete}, each step safe to
 * repeat: {@code create} leaves an existing machine alone, {@code start} on a running machine and
 * {@code stop} on a stopped one do nothing, {@code delete} of a deleted machine does nothing. {@code status}
 * never throws; it answers {@link berth.vm.MachineStatus#BROKEN} with reasons instead. A VM that died on its
 * own (its QEMU killed, say) reads as stopped with the reason, and the next {@code start} boots it again.
 *
 * <p>What a driver can do is data ({@link berth.vm.driver.DriverFeatures}); callers branch on that, not on
 * {@code name()}. Optional extras will be separate interfaces checked with {@code instanceof}.
 *
 * <p>The SSH channel to the guest's agent is not a driver's concern beyond telling where it listens
 * ({@link berth.vm.driver.SshEndpoint}).
 */
package berth.vm.driver;
