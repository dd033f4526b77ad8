/**
 * A container's control groups as the kernel shows them: reading the resource counters Docker's
 * {@code GET /containers/{id}/stats} reports, the OOM-kill counter, and removing the cgroup after the
 * container is gone.
 *
 * <p>Vocabulary, after runc's {@code libcontainer/cgroups} and the kernel's cgroup documents:
 *
 * <ul>
 *   <li><b>cgroups path</b>: the absolute path runc is given in the spec's {@code linux.cgroupsPath},
 *       e.g. {@code /berth/<id>}. It names the same leaf in every hierarchy.
 *   <li><b>v1</b> (legacy or hybrid host): one hierarchy per controller, mounted at
 *       {@code /sys/fs/cgroup/<controller>} ({@code cpu}, {@code cpuacct}, {@code memory}, {@code pids},
 *       {@code blkio} ...), plus named hierarchies ({@code systemd}) and, on hybrid hosts, an empty
 *       cgroup2 tree at {@code /sys/fs/cgroup/unified}. runc makes the leaf in each of them.
 *   <li><b>v2</b> (unified host): one cgroup2 tree mounted at {@code /sys/fs/cgroup} itself, recognised
 *       by its {@code cgroup.controllers} file; the leaf is one directory.
 * </ul>
 *
 * <p>{@link berth.engine.runtime.cgroup.Cgroups} never creates cgroups or moves processes: runc does.
 * It reads counter files, and removes leaves that runc left behind. Units are normalised to what the
 * Docker API carries (nanoseconds of CPU, bytes of memory and I/O).
 */
package berth.engine.runtime.cgroup;
