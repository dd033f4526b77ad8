package berth.engine.api.http;

import java.util.List;

/** The routes of one API resource (system, images, containers ...). */
public interface Router {
  List<Route> routes();
}
