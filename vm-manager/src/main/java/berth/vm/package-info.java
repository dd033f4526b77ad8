/**
 * Berth machines: the small Linux VMs that run the engine where the host has no Linux kernel (and on Linux
 * when asked).
 *
 * <p>A {@link berth.vm.Machine} is a name, its directory ({@link berth.vm.MachineDir}, under
 * {@code ~/.berth/machines/<name>/}) and its {@link berth.vm.MachineConfig}. The {@link berth.vm.MachineStore}
 * reads and writes machine directories; a {@link berth.vm.driver.MachineDriver} turns a machine into a running
 * VM. Configuration goes parse → fill → validate ({@link berth.vm.MachineConfigs}); a machine's
 * {@link berth.vm.MachineState} is a {@link berth.vm.MachineStatus} plus the reasons behind it.
 */
package berth.vm;
