import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * One upload job's folder of downloaded photos, as the ingest reads it: the photo files under
 * it (recursively; notes, JSON and unfinished .part downloads are not photos) and the labels of
 * each photo — source, collection, source URL — from the nearest {@code _metadata.json} above
 * it, unless the command line gives them.
 */
public record UploadFolder(String jobId, Path folder) {

    /** Source and collection given on the command line; empty: the job's {@code _metadata.json} says. */
    public record Labels(Optional<String> source, Optional<String> collection) {
        public static final Labels FROM_METADATA = new Labels(Optional.empty(), Optional.empty());
    }

    /** The labels a photo is registered with. */
    public record PhotoLabels(String source, String collection, String sourceUrl) {}

    /** The photo files, sorted (face ids and names follow this order). */
    public List<Path> photoFiles() throws IOException {
        try (Stream<Path> s = Files.walk(folder)) {
            return s.filter(Files::isRegularFile)
                    .filter(p -> {
                        String n = p.getFileName().toString();
                        String low = n.toLowerCase(Locale.ROOT);
                        return !n.startsWith(".") && !low.endsWith(".json") && !low.endsWith(".txt") && !low.endsWith(".md")
                                && !low.endsWith(".part");
                    })
                    .sorted().toList();
        }
    }

    /** The file's path under the folder, as printed and recorded ("sub/IMG_1.jpg"). */
    public String relative(Path file) {
        return folder.relativize(file).toString();
    }

    /** source, collection, source_url: the command line, else the nearest _metadata.json above the file. */
    public PhotoLabels labels(Path file, Labels given) {
        String source = given.source().orElse(null), collection = given.collection().orElse(null), url = null;
        for (Path dir = file.getParent(); dir != null && dir.startsWith(folder); dir = dir.getParent()) {
            Path meta = dir.resolve("_metadata.json");
            if (Files.isRegularFile(meta)) {
                try {
                    JsonNode j = JsonFiles.read(meta);
                    if (source == null) source = j.path("source").asText(null);
                    if (collection == null) collection = j.path("collection").asText(null);
                    url = j.path("source_url").asText(null);
                } catch (IOException | KitException e) {
                    // A broken _metadata.json only loses the labels, never the photo.
                }
                break;
            }
        }
        if (collection == null) collection = source;
        if (source == null) source = collection;
        return new PhotoLabels(source == null ? "" : source, collection == null ? "" : collection, url == null ? "" : url);
    }
}
