package berth.engine.distribution;

import berth.engine.errdefs.EngineException;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Credentials for one registry, as the docker CLI sends them: the JSON of {@code POST /auth}, or the same
 * JSON base64url-encoded in the {@code X-Registry-Auth} header. All fields may be null.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record AuthConfig(
    @JsonProperty("username") String username,
    @JsonProperty("password") String password,
    @JsonProperty("auth") String auth,
    @JsonProperty("serveraddress") String serverAddress,
    @JsonProperty("identitytoken") String identityToken,
    @JsonProperty("registrytoken") String registryToken) {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** No credentials. */
  public static final AuthConfig ANONYMOUS = new AuthConfig(null, null, null, null, null, null);

  /**
   * Decodes an {@code X-Registry-Auth} header (base64url or standard base64 of the JSON); null or empty is
   * anonymous; INVALID_PARAMETER when it is not base64 of a JSON object, as dockerd answers.
   */
  public static AuthConfig fromHeader(String header) {
    if (header == null || header.isBlank()) {
      return ANONYMOUS;
    }
    String h = header.trim();
    byte[] json;
    try {
      json = Base64.getUrlDecoder().decode(h.replace('+', '-').replace('/', '_'));
    } catch (IllegalArgumentException e) {
      throw EngineException.invalid("invalid X-Registry-Auth header: %s", e.getMessage());
    }
    try {
      AuthConfig a = JSON.readValue(json, AuthConfig.class);
      return a == null ? ANONYMOUS : a.normalized();
    } catch (IOException e) {
      throw EngineException.invalid("invalid X-Registry-Auth header: not base64url-encoded JSON");
    }
  }

  /**
   * The credentials for one registry domain (e.g. {@code localhost:5000}, {@code docker.io}) out of a build's
   * {@code X-Registry-Config} header: base64url JSON mapping server addresses, as the CLI's config file keys
   * them ({@code https://index.docker.io/v1/}, {@code host:port}, with or without a scheme), to credentials.
   * Anonymous when the header is absent or names no server of that domain; INVALID_PARAMETER when it is not
   * base64 of a JSON object.
   */
  public static AuthConfig forDomain(String registryConfigHeader, String domain) {
    if (registryConfigHeader == null || registryConfigHeader.isBlank()) {
      return ANONYMOUS;
    }
    java.util.Map<String, AuthConfig> all;
    try {
      byte[] json = Base64.getUrlDecoder().decode(registryConfigHeader.trim().replace('+', '-').replace('/', '_'));
      all = JSON.readValue(json, new com.fasterxml.jackson.core.type.TypeReference<java.util.Map<String, AuthConfig>>() {});
    } catch (IllegalArgumentException | IOException e) {
      throw EngineException.invalid("invalid X-Registry-Config header: not base64url-encoded JSON");
    }
    if (all == null) {
      return ANONYMOUS;
    }
    for (java.util.Map.Entry<String, AuthConfig> e : all.entrySet()) {
      if (e.getValue() != null && Registry.loginDomain(e.getKey()).equals(domain)) {
        return e.getValue().normalized();
      }
    }
    return ANONYMOUS;
  }

  /** Reads the body of {@code POST /auth}; INVALID_PARAMETER for bad JSON. */
  public static AuthConfig fromJson(byte[] body) {
    try {
      AuthConfig a = JSON.readValue(body, AuthConfig.class);
      return a == null ? ANONYMOUS : a.normalized();
    } catch (IOException e) {
      throw EngineException.invalid("invalid auth configuration: not valid JSON");
    }
  }

  /** Fills username and password from the legacy {@code auth} field (base64 of user:password) when they are unset. */
  AuthConfig normalized() {
    if ((username == null || username.isEmpty()) && auth != null && !auth.isEmpty()) {
      try {
        String up = new String(Base64.getDecoder().decode(auth.trim()), StandardCharsets.UTF_8);
        int colon = up.indexOf(':');
        if (colon > 0) {
          return new AuthConfig(up.substring(0, colon), up.substring(colon + 1), auth, serverAddress, identityToken,
              registryToken);
        }
      } catch (IllegalArgumentException ignored) {
        // not base64: keep the config as it came, without user and password
      }
    }
    return this;
  }

  /** Whether a username and password are present. */
  public boolean hasPassword() {
    return username != null && !username.isEmpty() && password != null;
  }

  /** The value of a Basic Authorization header for these credentials. */
  String basic() {
    return "Basic " + Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  /** The user and server only: credentials never reach logs. */
  @Override
  public String toString() {
    return "AuthConfig[username=" + username + ", serverAddress=" + serverAddress + "]"; // never the secrets
  }
}
