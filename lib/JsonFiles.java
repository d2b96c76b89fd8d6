//DEPS com.fasterxml.jackson.core:jackson-databind:2.18.2
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The one place JSON is read and written. Documents are handled as Jackson trees, so every
 * field the kit does not know survives untouched and in its order; numbers keep their exact
 * decimal text. Output matches Python's {@code json.dump(indent=2, ensure_ascii=False)}, the
 * format the site and the admins' hand-made copies use, so diffs stay small.
 */
public final class JsonFiles {
    private JsonFiles() {}

    /**
     * Trees keep exact decimals. The kit's own records (step plans and results) serialise with
     * snake_case keys, as every other key the archive and the site use, and paths as plain text.
     */
    public static final ObjectMapper MAPPER = new ObjectMapper(com.fasterxml.jackson.core.JsonFactory.builder()
                    // The documents' big maps are keyed by ids (photo ids, face ids): tens of thousands of names seen
                    // once each. Jackson's table of field names is made for a few names seen often: filling it with
                    // these costs most of the parse (and its interning more), for nothing.
                    .disable(com.fasterxml.jackson.core.JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
                    .disable(com.fasterxml.jackson.core.JsonFactory.Feature.INTERN_FIELD_NAMES)
                    .build())
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .configure(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES, false)
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .registerModule(new SimpleModule().addSerializer(Path.class, new ToStringSerializer(Path.class)));

    private static final ObjectWriter PRETTY = MAPPER.writer(pythonStylePrinter());

    private static DefaultPrettyPrinter pythonStylePrinter() {
        Separators seps = Separators.createDefaultInstance()
                .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                .withObjectEmptySeparator("")
                .withArrayEmptySeparator("");
        DefaultIndenter indent = new DefaultIndenter("  ", "\n");
        DefaultPrettyPrinter p = new DefaultPrettyPrinter(seps);
        p.indentObjectsWith(indent);
        p.indentArraysWith(indent);
        return p;
    }

    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    /** Parses text; a syntax error becomes a KitException that names {@code what}, line and column. */
    public static JsonNode parse(String text, String what) {
        try {
            JsonNode n = MAPPER.readTree(text);
            if (n == null || n.isMissingNode()) {
                throw new KitException(what + " is empty, not a JSON document", null);
            }
            return n;
        } catch (JsonProcessingException e) {
            throw new KitException(what + " is not valid JSON (" + describe(e) + ")", null, e);
        }
    }

    public static JsonNode parse(byte[] bytes, String what) {
        // Straight from the bytes, with no String of the whole file first. (Without the field-name table,
        // MAPPER's factory decodes them through its own UTF-8 reader, not its byte parser, which needs the
        // table.) Anything it refuses, invalid UTF-8 included, goes the way it always went: decoded
        // leniently, then parsed, so what is read and what an error says stay as they were.
        try {
            JsonNode n = MAPPER.readTree(bytes);
            if (n != null && !n.isMissingNode()) return n;
        } catch (IOException e) {
            // said by the text parse below
        }
        return parse(new String(bytes, StandardCharsets.UTF_8), what);
    }

    /** Reads a JSON file; a missing file is {@link NoSuchFileException}, bad JSON a KitException naming the file. */
    public static JsonNode read(Path file) throws IOException {
        return parse(Files.readAllBytes(file), file.toString());
    }

    /** Reads a JSON file that must hold an object. */
    public static ObjectNode readObject(Path file) throws IOException {
        JsonNode n = read(file);
        if (!n.isObject()) {
            throw new KitException(file + " holds a JSON " + n.getNodeType().toString().toLowerCase()
                    + ", not the object expected", null);
        }
        return (ObjectNode) n;
    }

    /** Pretty-printed text with a final newline, as written to disk. */
    public static String pretty(JsonNode node) {
        try {
            return PRETTY.writeValueAsString(node) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree could not be written", e);
        }
    }

    public static String compact(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree could not be written", e);
        }
    }

    /**
     * True when two documents hold the same content: objects compared as maps (key order aside),
     * numbers by value (a site that rewrites 1.50 as 1.5 still holds the same document).
     */
    public static boolean sameContent(JsonNode a, JsonNode b) {
        return a.equals((x, y) -> {
            if (x.isNumber() && y.isNumber()) return x.decimalValue().compareTo(y.decimalValue());
            return x.equals(y) ? 0 : 1;
        }, b);
    }

    /** Writes a document atomically (temp file, fsync, rename). */
    public static void write(Path file, JsonNode node) throws IOException {
        AtomicFiles.write(file, pretty(node).getBytes(StandardCharsets.UTF_8));
    }

    private static String describe(JsonProcessingException e) {
        String msg = e.getOriginalMessage();
        // Jackson appends where the input came from ("[Source: REDACTED ..."): not useful to a person.
        int src = msg == null ? -1 : msg.indexOf(" (start marker at [Source");
        if (src < 0 && msg != null) src = msg.indexOf(" at [Source");
        if (src >= 0) msg = msg.substring(0, src);
        if (msg != null && msg.length() > 120) msg = msg.substring(0, 120) + "...";
        if (e.getLocation() != null) {
            return "line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ": " + msg;
        }
        return String.valueOf(msg);
    }
}
