/**
 * How the archive names things, in one place: a photo's basename, its key and its crop's key
 * in the bucket, and a file name made safe to print.
 */
public final class Names {
    private Names() {}

    /**
     * The file name part of a photo's "path" (which may hold folders, with / or \). Production
     * builds a photo's public URL from this basename, so the bucket key uses it too.
     */
    public static String basename(String path) {
        int cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
        return path.substring(cut + 1).strip();
    }

    /** The bucket key of a photo: raw_photos/<basename>. */
    public static String photoKey(String photoPath) {
        return "raw_photos/" + basename(photoPath);
    }

    /** The bucket key of a face's crop: crops/<face_id>.jpg. */
    public static String cropKey(String faceId) {
        return "crops/" + faceId + ".jpg";
    }

    /**
     * A name safe to print on a terminal: control characters (newline, ESC, ...) shown as \xNN,
     * so a hostile file name can neither hide nor rewrite what the kit prints.
     */
    public static String printable(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) sb.append(String.format("\\x%02x", (int) c));
            else sb.append(c);
        }
        return sb.toString();
    }
}
