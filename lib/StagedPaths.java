import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * Where a file of the site's staging listing may land locally, and which upload job it belongs
 * to. The listing comes from the network, so its paths are untrusted: an absolute path, a ".."
 * segment, a control character or anything else that would escape the destination folder is
 * refused, never "cleaned up" into something else.
 */
public final class StagedPaths {
    private StagedPaths() {}

    /** A job folder as the site makes them (8 hex characters), or another plain folder name such as back_images. */
    private static final Pattern JOB_FOLDER = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");

    /** The local file for {@code stagedPath} under {@code dest}; throws KitException saying why a path is refused. */
    public static Path target(Path dest, String stagedPath) {
        String why = refusal(dest, stagedPath);
        if (why != null) {
            throw new KitException("refused staged path '" + Names.printable(stagedPath) + "': " + why,
                    "this file was skipped and is left on the site; rename or remove it there");
        }
        return dest.toAbsolutePath().normalize().resolve(stagedPath).normalize();
    }

    /** Why {@code stagedPath} may not be downloaded under {@code dest}, or null when it may. */
    public static String refusal(Path dest, String stagedPath) {
        String why = refusal(stagedPath);
        if (why != null) return why;
        Path root = dest.toAbsolutePath().normalize();
        Path t = root.resolve(stagedPath).normalize();
        if (!t.startsWith(root) || t.equals(root)) return "it would land outside " + root;
        return null;
    }

    /** Why a path is refused whatever the destination, or null when it is acceptable. */
    static String refusal(String p) {
        if (p == null || p.isEmpty()) return "it is empty";
        if (p.startsWith("/") || p.startsWith("\\")) return "it is absolute";
        if (p.length() > 1 && p.charAt(1) == ':') return "it names a drive";
        if (p.indexOf('\\') >= 0) return "it holds a backslash";
        for (int i = 0; i < p.length(); i++) if (p.charAt(i) < 0x20 || p.charAt(i) == 0x7f) return "it holds a control character";
        for (String seg : p.split("/", -1)) {
            if (seg.isEmpty()) return "it holds an empty path segment";
            if (seg.equals("..")) return "it holds '..'";
            if (seg.equals(".")) return "it holds '.'";
        }
        return null;
    }

    /**
     * The upload job a staged path belongs to: its first folder when that is a plain folder name,
     * else "" (a file outside any job folder). A refused file still belongs to its job, so that
     * job is never cleared while the file is left on the site.
     */
    public static String jobOf(String stagedPath) {
        int slash = stagedPath.indexOf('/');
        if (slash <= 0) return "";
        String first = stagedPath.substring(0, slash);
        return isJobFolder(first) ? first : "";
    }

    /** True for a name the kit may send to the site as a whole job folder to clear. */
    public static boolean isJobFolder(String name) {
        return name != null && JOB_FOLDER.matcher(name).matches();
    }
}
