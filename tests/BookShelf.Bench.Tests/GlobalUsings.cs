global using BookShelf.Testing;
global using Xunit;
