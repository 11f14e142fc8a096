import Foundation

// TODO: placeholder until `serve` lands.
public enum RivuletCommandLine {
    public static func run(_ arguments: [String]) -> Int32 {
        FileHandle.standardError.write(Data("rivulet: not implemented yet\n".utf8))
        return 2
    }
}
