/**
 * The embedded DNS server, Docker's 127.0.0.11: in each attached container's network namespace a
 * resolver that answers the engine's names and forwards the rest (see {@link
 * berth.engine.network.dns.EmbeddedDns}). Wire format by dnsjava.
 */
package berth.engine.network.dns;
