package berth.engine.api.types;

import java.util.List;

/**
 * {@code GET /containers/{id}/top} (swagger ContainerTopResponse): the column titles of {@code ps} and
 * one row of strings per process. {@code Processes} is null when no row matched, as from dockerd.
 */
public record ContainerTop(List<String> titles, List<List<String>> processes) {}
