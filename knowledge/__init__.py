"""The knowledge base (知识库, 一问一答): answers to the questions citizens ask most, kept per
jurisdiction, versioned, searched by agents as they type, spoken by the IVR's self-service
menu and shared (what is marked shareable) with the other platform's deployment."""
