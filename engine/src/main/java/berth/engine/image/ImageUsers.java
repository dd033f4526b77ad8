package berth.engine.image;

import java.util.List;
import java.util.Set;

/** What the image service must know of containers: who uses an image, and which layers they stand on. */
public interface ImageUsers {
  /** IDs of the containers made from the image. */
  List<String> containersUsing(String imageId);

  /** The diffIDs every container's root filesystem is built on; GC keeps them even after rmi -f. */
  Set<String> diffIdsInUse();

  /** An image service with no containers (until the container service is wired in). */
  ImageUsers NONE = new ImageUsers() {
    @Override
    public List<String> containersUsing(String imageId) {
      return List.of();
    }

    @Override
    public Set<String> diffIdsInUse() {
      return Set.of();
    }
  };
}
