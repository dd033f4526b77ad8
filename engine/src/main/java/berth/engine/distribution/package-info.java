/**
 * A client for OCI Distribution registries: endpoints from the engine's registry settings
 * ({@link berth.engine.distribution.RegistryHosts}), sessions that authenticate with Basic or Bearer
 * tokens ({@link berth.engine.distribution.RegistrySession}), manifests and platform choice
 * ({@link berth.engine.distribution.Manifests}, {@link berth.engine.distribution.Platform}). What is pulled
 * is stored by {@code berth.engine.image}; this package never touches the data root.
 */
package berth.engine.distribution;
