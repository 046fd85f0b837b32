global using System.Net;
global using BookShelf.Testing;
global using Xunit;
