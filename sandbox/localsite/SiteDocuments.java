import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;

/**
 * The local site's documents, as production keeps them: identities.json, photo_index.json,
 * annotations.json (and the other pushable files), the status counts production derives from
 * them, and a push that copies each file to <name>.bak.<unix-ts> before overwriting it, keeping
 * the newest few copies. Every document of a push is checked before anything is written, so a
 * bad second one leaves the first alone (production would half-write).
 */
final class SiteDocuments {
    /** How many .bak.<ts> copies production keeps of each pushed file (it prunes older ones). */
    static final int BACKUPS_KEPT = 3;
    /** What a push accepts, in the order production writes them, with the key that holds the count. */
    static final List<String[]> PUSHABLE = List.of(
            new String[] {"identities", "identities.json", "identities"},
            new String[] {"photo_index", "photo_index.json", "photos"},
            new String[] {"annotations", "annotations.json", "annotations"},
            new String[] {"photo_locations", "photo_locations.json", "photos"},
            new String[] {"date_labels", "date_labels.json", "photos"});

    final Path root;
    /** Shared with the staging area: push, clear, mark-processed and the listing never interleave. */
    final ReentrantLock writes;

    SiteDocuments(Path root, ReentrantLock writes) {
        this.root = root;
        this.writes = writes;
    }

    ObjectNode status() throws IOException {
        int identities = 0, confirmed = 0, proposed = 0, inbox = 0, photos = 0;
        Path ids = root.resolve("identities.json");
        if (Files.exists(ids)) {
            JsonNode all = JsonFiles.read(ids).path("identities");
            for (JsonNode identity : all) {
                // production's registry leaves merged-away identities out of every count
                if (PythonWire.truthy(identity.get("merged_into"))) continue;
                identities++;
                switch (identity.path("state").asText()) {
                    case "CONFIRMED" -> confirmed++;
                    case "PROPOSED" -> proposed++;
                    case "INBOX" -> inbox++;
                    default -> { }
                }
            }
        }
        Path index = root.resolve("photo_index.json");
        if (Files.exists(index)) photos = JsonFiles.read(index).path("photos").size();
        ObjectNode out = JsonFiles.object();
        out.put("identities", identities);
        out.put("confirmed", confirmed);
        out.put("proposed", proposed);
        out.put("inbox", inbox);
        out.put("photos", photos);
        out.put("timestamp", PythonWire.PY_ISO.format(Instant.now()));
        return out;
    }

    /** A whole document (identities.json, photo_index.json), or null when the site has none yet. */
    JsonNode wholeFile(String name) throws IOException {
        Path file = root.resolve(name);
        return Files.isRegularFile(file) ? JsonFiles.read(file) : null;
    }

    JsonNode annotations() throws IOException {
        Path file = root.resolve("annotations.json");
        if (Files.isRegularFile(file)) return JsonFiles.read(file);
        // production answers an empty document when no one has written a caption yet
        ObjectNode empty = JsonFiles.object();
        empty.put("schema_version", 1);
        empty.putObject("annotations");
        return empty;
    }

    ObjectNode push(ObjectNode body) throws IOException, SiteHttpApi.Refusal {
        // Production ignores empty values ({} or null) and wants at least one document; every
        // document is checked before anything is written, so a bad second one leaves the first alone.
        List<String[]> given = new ArrayList<>();
        for (String[] kind : PUSHABLE) {
            JsonNode value = body.get(kind[0]);
            if (value == null || value.isNull()) continue;
            if (!value.isObject()) throw new SiteHttpApi.Refusal(400, kind[0] + " must be a JSON object");
            if (value.size() > 0) given.add(kind);
        }
        if (given.isEmpty()) {
            List<String> names = PUSHABLE.stream().map(k -> "'" + k[0] + "'").sorted().toList();
            throw new SiteHttpApi.Refusal(400, "Must provide one of [" + String.join(", ", names) + "] in request body");
        }
        writes.lock();
        try {
            long ts = Instant.now().getEpochSecond();
            ObjectNode out = JsonFiles.object();
            out.put("status", "ok");
            ObjectNode results = out.putObject("results");
            for (String[] kind : given) {
                JsonNode doc = body.get(kind[0]);
                Path file = root.resolve(kind[1]);
                String backupName = kind[1] + ".bak." + ts;
                if (Files.exists(file)) AtomicFiles.copy(file, root.resolve(backupName), true);
                JsonFiles.write(file, doc);
                JsonNode counted = doc.get(kind[2]);
                // identities.json and date_labels may also come as a bare map
                if (counted == null && (kind[0].equals("identities") || kind[0].equals("date_labels"))) counted = doc;
                ObjectNode r = results.putObject(kind[0]);
                r.put("status", "written");
                r.put("count", counted == null ? 0 : counted.size());
                r.put("backup", backupName);
            }
            pruneBackups();
            out.put("timestamp", ts);
            return out;
        } finally {
            writes.unlock();
        }
    }

    /** Production keeps only the newest few <name>.bak.<ts> copies of each file. */
    void pruneBackups() throws IOException {
        List<Path> baks;
        try (Stream<Path> s = Files.list(root)) {
            baks = s.filter(p -> p.getFileName().toString().contains(".bak.") && Files.isRegularFile(p)).toList();
        }
        Map<String, List<Path>> byBase = new java.util.TreeMap<>();
        for (Path p : baks) {
            String name = p.getFileName().toString();
            byBase.computeIfAbsent(name.substring(0, name.indexOf(".bak.")), k -> new ArrayList<>()).add(p);
        }
        for (List<Path> group : byBase.values()) {
            group.sort(Comparator.comparingLong(SiteDocuments::backupTime).reversed());
            for (Path old : group.subList(Math.min(BACKUPS_KEPT, group.size()), group.size())) Files.deleteIfExists(old);
        }
    }

    static long backupTime(Path p) {
        String name = p.getFileName().toString();
        try {
            return Long.parseLong(name.substring(name.lastIndexOf(".bak.") + 5));
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
