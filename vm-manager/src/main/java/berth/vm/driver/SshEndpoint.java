package berth.vm.driver;

/** Where the host reaches a running guest's SSH server (the agent), e.g. 127.0.0.1 and a forwarded port. */
public record SshEndpoint(String host, int port) {
  @Override
  public String toString() {
    return host + ":" + port;
  }
}
