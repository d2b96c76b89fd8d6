import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The archive's two documents in {@code data/}: identities.json and photo_index.json
 * (layouts in shared/spec/data-files.md). They are read as JSON trees, so fields the kit does
 * not know survive, and written atomically. A folder with neither file is a new, empty archive.
 */
public final class ArchiveFiles {
    public static final String IDENTITIES = "identities.json";
    public static final String PHOTO_INDEX = "photo_index.json";
    public static final String[] NAMES = {IDENTITIES, PHOTO_INDEX};

    private final Path dataDir;

    public ArchiveFiles(Path dataDir) {
        this.dataDir = dataDir;
    }

    public Path dataDir() {
        return dataDir;
    }

    public Path identitiesFile() {
        return dataDir.resolve(IDENTITIES);
    }

    public Path photoIndexFile() {
        return dataDir.resolve(PHOTO_INDEX);
    }

    /** True when neither document exists yet: the first run starts an empty archive. */
    public boolean isEmptyArchive() {
        return !Files.exists(identitiesFile()) && !Files.exists(photoIndexFile());
    }

    public static ObjectNode emptyIdentities() {
        ObjectNode doc = JsonFiles.object();
        doc.put("schema_version", 1);
        doc.putObject("identities");
        doc.putArray("history");
        return doc;
    }

    public static ObjectNode emptyPhotoIndex() {
        ObjectNode doc = JsonFiles.object();
        doc.put("schema_version", 1);
        doc.putObject("photos");
        doc.putObject("face_to_photo");
        return doc;
    }

    /** identities.json, or an empty document when the file does not exist yet. */
    public ObjectNode readIdentities() {
        return read(identitiesFile(), true);
    }

    /** photo_index.json, or an empty document when the file does not exist yet. */
    public ObjectNode readPhotoIndex() {
        return read(photoIndexFile(), false);
    }

    private static ObjectNode read(Path file, boolean identities) {
        try {
            ObjectNode doc = JsonFiles.readObject(file);
            if (identities) checkIdentities(doc, file.toString());
            else checkPhotoIndex(doc, file.toString());
            return doc;
        } catch (NoSuchFileException e) {
            return identities ? emptyIdentities() : emptyPhotoIndex();
        } catch (KitException e) {
            throw new KitException(e.getMessage(), "restore the last good copy: ./jbang restore --list, then ./jbang restore --latest", e);
        } catch (IOException e) {
            throw new KitException("cannot read " + file + ": " + e.getMessage(), "check the file's permissions", e);
        }
    }

    public void writeIdentities(ObjectNode doc) {
        checkIdentities(doc, IDENTITIES);
        write(identitiesFile(), doc);
    }

    public void writePhotoIndex(ObjectNode doc) {
        checkPhotoIndex(doc, PHOTO_INDEX);
        write(photoIndexFile(), doc);
    }

    private static void write(Path file, ObjectNode doc) {
        try {
            JsonFiles.write(file, doc);
        } catch (IOException e) {
            throw new KitException("cannot write " + file + ": " + e.getMessage(),
                    "check free disk space and permissions; the previous version of the file is unchanged", e);
        }
    }

    /** Fails unless {@code doc} is an identities document: an object whose "identities" is an object of objects. */
    public static void checkIdentities(JsonNode doc, String what) {
        if (doc == null || !doc.isObject()) throw new KitException(what + " is not an identities document (not a JSON object)");
        JsonNode ids = doc.get("identities");
        if (ids == null || !ids.isObject()) {
            throw new KitException(what + " is not an identities document (no \"identities\" object"
                    + (doc.has("photos") ? "; it looks like a photo index" : "") + ")");
        }
        var it = ids.fields();
        while (it.hasNext()) {
            var e = it.next();
            if (!e.getValue().isObject()) throw new KitException(what + ": identity " + e.getKey() + " is not a JSON object");
        }
    }

    /** Fails unless {@code doc} is a photo index: an object with a "photos" object (and "face_to_photo" object if present). */
    public static void checkPhotoIndex(JsonNode doc, String what) {
        if (doc == null || !doc.isObject()) throw new KitException(what + " is not a photo index (not a JSON object)");
        JsonNode photos = doc.get("photos");
        if (photos == null || !photos.isObject()) {
            throw new KitException(what + " is not a photo index (no \"photos\" object"
                    + (doc.has("identities") ? "; it looks like an identities document" : "") + ")");
        }
        JsonNode f2p = doc.get("face_to_photo");
        if (f2p != null && !f2p.isObject()) throw new KitException(what + ": \"face_to_photo\" is not a JSON object");
    }

    /**
     * Why {@code file} (identities.json or photo_index.json, by its name) is not a good copy of
     * its document — bad JSON or the wrong layout — or null when it is. Reads only.
     */
    public static String problem(Path file) {
        try {
            ObjectNode doc = JsonFiles.readObject(file);
            if (file.getFileName().toString().startsWith("identities")) checkIdentities(doc, file.toString());
            else checkPhotoIndex(doc, file.toString());
            return null;
        } catch (KitException e) {
            return e.getMessage();
        } catch (IOException e) {
            return "cannot read " + file + ": " + e.getMessage();
        }
    }

    /** Number of identities in an identities document. */
    public static int identityCount(JsonNode doc) {
        return doc.path("identities").size();
    }

    /** Number of photos in a photo index. */
    public static int photoCount(JsonNode doc) {
        return doc.path("photos").size();
    }
}
