package berth.engine.image;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How docker commit merges the request's config (with --change applied) over the container's (moby's merge). */
class CommitterTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static ObjectNode json(String s) throws Exception {
    return (ObjectNode) JSON.readTree(s);
  }

  @Test
  void unsetFieldsComeFromTheContainerAndEnvMergesByName() throws Exception {
    ObjectNode user = json("{\"Env\":[\"A=user\"],\"Labels\":{\"x\":\"u\"}}");
    ConfigChanges.apply(user, List.of("CMD [\"cat\", \"/f\"]"));
    Committer.merge(user, json("{\"Env\":[\"A=ctr\",\"PATH=/bin\"],\"Cmd\":[\"sh\"],\"Entrypoint\":[\"/init\"],"
        + "\"Labels\":{\"x\":\"c\",\"y\":\"c\"},\"User\":\"nobody\",\"WorkingDir\":\"/w\"}"));
    assertEquals(json("{\"Env\":[\"A=user\",\"PATH=/bin\"],\"Labels\":{\"x\":\"u\",\"y\":\"c\"},\"Cmd\":[\"cat\",\"/f\"],"
        + "\"User\":\"nobody\",\"WorkingDir\":\"/w\",\"Entrypoint\":[\"/init\"]}"), user);
  }

  @Test
  void anEntrypointChangeDropsTheContainersCmd() throws Exception {
    ObjectNode user = json("{}");
    ConfigChanges.apply(user, List.of("ENTRYPOINT [\"/run\"]"));
    Committer.merge(user, json("{\"Cmd\":[\"sh\"],\"Entrypoint\":[\"/init\"]}"));
    assertEquals(json("{\"Entrypoint\":[\"/run\"]}"), user);
  }

  @Test
  void noChangesKeepTheContainersCommand() throws Exception {
    ObjectNode user = json("{}");
    Committer.merge(user, json("{\"Cmd\":[\"sh\",\"-c\",\"x\"],\"Env\":[\"P=1\"]}"));
    assertEquals(json("{\"Cmd\":[\"sh\",\"-c\",\"x\"],\"Env\":[\"P=1\"]}"), user);
  }
}
