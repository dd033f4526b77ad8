package berth.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class EngineNettyDefaultsTest {

  @Test
  void nettysJfrEventsAreOffAndItsBuffersUnpooledOnceTheEngineIsLoaded() throws ClassNotFoundException {
    // the engine's class initializer sets them (a -D given on the command line would win; this run gives none)
    Class.forName("berth.engine.Engine", true, getClass().getClassLoader());
    assertEquals("false", System.getProperty("io.netty.jfr.enabled"));
    assertEquals("unpooled", System.getProperty("io.netty.allocator.type"));
  }
}
