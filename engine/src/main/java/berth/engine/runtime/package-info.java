/**
 * Running containers: from a Docker create request to an OCI runtime spec, and (in later issues) the
 * runc-based runtime that runs it.
 *
 * <p>Vocabulary, after the OCI runtime spec and moby's {@code daemon/oci_linux.go}:
 *
 * <ul>
 *   <li><b>bundle</b>: a directory holding {@code config.json}, the {@link berth.engine.runtime.OciSpec};
 *       the root filesystem it names is an overlay mount the runtime prepares from the layer store's
 *       mount description.
 *   <li><b>spec building</b>: {@link berth.engine.runtime.OciSpecBuilder} is a pure function of the
 *       request, the image config, the host's facts and inputs already resolved by the caller (user, bind
 *       mounts, namespaces to join, devices). It applies Docker's defaults — capabilities, default mounts,
 *       masked and read-only paths, the device cgroup allow-list, RLIMIT_NOFILE, the seccomp profile — and
 *       validates every field, reporting all problems in one {@code INVALID_PARAMETER}.
 *   <li><b>user resolution</b>: {@link berth.engine.runtime.UserResolver} reads the image's
 *       {@code /etc/passwd} and {@code /etc/group} with symlinks confined to the rootfs.
 *   <li><b>seccomp profile</b>: {@link berth.engine.runtime.SeccompProfile} holds a profile in Docker's
 *       format (rules conditional on capabilities, architecture and kernel) and resolves it into the
 *       plain filter of the spec; Berth's default profile is a resource of this package.
 * </ul>
 *
 * <p>Nothing here touches the host: no mounts, no cgroups, no processes. That is the runtime's job.
 */
package berth.engine.runtime;
