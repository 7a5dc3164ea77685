"""A stand-in for ``torch`` where a service only asks how many GPUs there are."""


class cuda:
    @staticmethod
    def device_count() -> int:
        return 1
