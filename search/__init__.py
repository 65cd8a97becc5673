"""Full-text search over published content (whoosh), behind ``ISearchService``.

Indexes the documents it is handed and answers queries; it imports no domain code.
"""
