/**
 * Reading container logs stored in Docker's {@code json-file} format ({@code <id>-json.log}, rotated to
 * {@code .1}, {@code .2} … with higher numbers older), with {@code docker logs} semantics: since/until, tail
 * across rotated files, follow across rotation. The files are written by the per-container monitor.
 */
package berth.engine.logs;
