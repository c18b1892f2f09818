"""A tiny repository for agent clients to read: `workdir "repos/sample"` in a client workload."""


def greet(name: str) -> str:
    return f"hello, {name}"


if __name__ == "__main__":
    print(greet("world"))
