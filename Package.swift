// swift-tools-version:6.0
import PackageDescription

// One target per layer; dependencies point down (see docs/architecture.md).
let package = Package(
    name: "Rivulet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rivulet", targets: ["rivulet"]),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // Header-only: epoll, eventfd, timerfd and accept4, which the Glibc module does not export.
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),

        .target(name: "RivuletCore"),
        .target(name: "RivuletStorage", dependencies: ["RivuletCore", "CLinux"]),
        .target(name: "RivuletBroker", dependencies: ["RivuletCore", "RivuletStorage"]),
        .target(name: "RivuletAuth", dependencies: ["RivuletCore", "RivuletStorage", "COpenSSL"]),
        .target(name: "RivuletHTTP", dependencies: ["RivuletCore", "CLinux", "COpenSSL"]),
        .target(name: "RivuletAPI", dependencies: ["RivuletCore", "RivuletHTTP", "RivuletAuth"]),
        .target(
            name: "RivuletServer",
            dependencies: ["RivuletCore", "RivuletStorage", "RivuletBroker", "RivuletAuth", "RivuletHTTP", "RivuletAPI"]
        ),
        .executableTarget(name: "rivulet", dependencies: ["RivuletServer"]),

        .testTarget(name: "RivuletCoreTests", dependencies: ["RivuletCore"]),
        .testTarget(name: "RivuletStorageTests", dependencies: ["RivuletStorage"]),
        .testTarget(name: "RivuletBrokerTests", dependencies: ["RivuletBroker", "RivuletStorage"]),
        .testTarget(name: "RivuletAuthTests", dependencies: ["RivuletAuth"]),
        .testTarget(name: "RivuletHTTPTests", dependencies: ["RivuletHTTP"]),
        .testTarget(name: "RivuletAPITests", dependencies: ["RivuletAPI", "RivuletHTTP", "RivuletAuth"]),
        .testTarget(name: "RivuletServerTests", dependencies: ["RivuletServer"]),
    ]
)
